//go:build unix

package report_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumFlags run Debian's Chromium headless as root on a closed network:
// no sandbox (root), no GPU, and nothing that would reach out (sync,
// component updates, background networking, QUIC).
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-extensions", "--hide-scrollbars", "--force-color-profile=srgb",
}

// chromiumBinary finds Debian's chromium. A missing browser fails the test:
// scripts/setup.sh installs it, and CI runs setup first.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium package; CI runs it too)")
	return ""
}

// runChromium runs one headless Chromium with a fresh profile and returns its
// standard output. Chromium starts helper processes (zygote, renderer, GPU,
// crash handler): it runs in a process group of its own, which is killed
// whole when the run ends, however it ends, before the profile is removed.
func runChromium(t *testing.T, bin string, args ...string) ([]byte, time.Duration) {
	t.Helper()
	profile, err := os.MkdirTemp("", "cx360-report-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"--user-data-dir=" + profile}, chromiumFlags...), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+profile, "XDG_CONFIG_HOME="+filepath.Join(profile, "config"), "XDG_CACHE_HOME="+filepath.Join(profile, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	took := time.Since(start)
	if cmd.Process != nil {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("killing chromium's process group: %v", err)
		}
	}
	if err := os.RemoveAll(profile); err != nil {
		t.Errorf("removing chromium's profile: %v", err)
	}
	if runErr != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), runErr, stderr.String())
	}
	return stdout.Bytes(), took
}

// checkInChromium opens the page in headless Chromium: the DOM it parsed must
// hold every section and every chart element with its data, and its
// screenshot must show a drawn page in the channels' colours.
func checkInChromium(t *testing.T, page string) {
	bin := chromiumBinary(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	keepArtifacts(t, file)
	url := "file://" + file

	dom, took := runChromium(t, bin, "--dump-dom", url)
	t.Logf("chromium --dump-dom: %v, %d bytes", took, len(dom))
	checkSections(t, string(dom))
	want, got := svgData(page), svgData(string(dom))
	if len(got) == 0 || len(got) != len(want) {
		t.Errorf("chromium's DOM has %d SVG elements with data-value, the page %d", len(got), len(want))
	}
	if !strings.Contains(string(dom), "cust-bob") || !strings.Contains(string(dom), `id="chart-journey"`) {
		t.Errorf("chromium's DOM lacks the journey chart")
	}

	shot := filepath.Join(dir, "report.png")
	_, took = runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", url)
	info, err := os.Stat(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("chromium --screenshot: %v, %d KB", took, info.Size()/1024)
	keepArtifacts(t, shot)
	if info.Size() < 40<<10 {
		t.Errorf("the screenshot is %d bytes: too small for a drawn page", info.Size())
	}
	img := decodePNG(t, shot)
	colours := distinctColours(img)
	if colours < 200 {
		t.Errorf("the screenshot has %d distinct colours: not a drawn page", colours)
	}
	// The first screen shows the phases chart: every channel's colour is painted.
	for name, hex := range map[string]color.RGBA{
		"store": {0x25, 0x63, 0xeb, 0xff}, "web": {0x05, 0x96, 0x69, 0xff},
		"app": {0x7c, 0x3a, 0xed, 0xff}, "phone": {0xea, 0x58, 0x0c, 0xff},
	} {
		if n := pixelsNear(img, hex, 8); n < 200 {
			t.Errorf("the screenshot has %d pixels of %s's colour, want a drawn bar", n, name)
		}
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	return img
}

func distinctColours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// pixelsNear counts the pixels within tol (per 8-bit channel) of c.
func pixelsNear(img image.Image, c color.RGBA, tol int) int {
	near := func(a uint32, b uint8) bool { d := int(a>>8) - int(b); return d >= -tol && d <= tol }
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(r, c.R) && near(g, c.G) && near(b, c.B) {
				n++
			}
		}
	}
	return n
}
