package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSFiles are a client's TLS settings as the files a deployment mounts.
type TLSFiles struct {
	CAFile             string // PEM CA of the server's certificate; empty: the system's roots
	CertFile, KeyFile  string // PEM client certificate and key, for mutual TLS
	ServerName         string // name to verify; empty: the dialled host
	InsecureSkipVerify bool   // tests only
}

// ClientConfig reads the files into a TLS 1.2+ client configuration.
func (f TLSFiles) ClientConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // an explicit, documented test-only option
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA: no PEM certificate in %s", f.CAFile)
		}
		tc.RootCAs = pool
	}
	if f.CertFile != "" || f.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (f TLSFiles) validate(prefix string, enabled bool) []error {
	var errs []error
	if (f.CertFile == "") != (f.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s-tls-cert-file and %s-tls-key-file go together", prefix, prefix))
	}
	if !enabled && (f.CAFile != "" || f.CertFile != "" || f.ServerName != "" || f.InsecureSkipVerify) {
		errs = append(errs, fmt.Errorf("%s-tls-* options are set but %s-tls is off", prefix, prefix))
	}
	return errs
}

// bindTLS registers the TLS flags of one kind of server (kafka, clickhouse).
func bindTLS(fs *FlagSet, prefix, what string, on *bool, f *TLSFiles) {
	fs.Bool(on, prefix+"-tls", false, "connect to "+what+" over TLS")
	fs.String(&f.CAFile, prefix+"-tls-ca-file", "", "PEM file of the CA that signed "+what+"'s certificates (default: the system's roots)")
	fs.String(&f.CertFile, prefix+"-tls-cert-file", "", "PEM client certificate, for mutual TLS")
	fs.String(&f.KeyFile, prefix+"-tls-key-file", "", "PEM key of the client certificate")
	fs.String(&f.ServerName, prefix+"-tls-server-name", "", "name to verify "+what+"'s certificate against (default: the host dialled)")
	fs.Bool(&f.InsecureSkipVerify, prefix+"-tls-insecure-skip-verify", false, "do not verify "+what+"'s certificate (tests only)")
}
