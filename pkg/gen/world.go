package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cx360/cx360/pkg/normalize"
)

// The retailer: a UK fashion and home chain.
const (
	currency     = "GBP"
	siteURL      = "https://shop.example"
	appVersionA  = "5.2.0"
	appVersionB  = "5.3.1"
	walkInWindow = 29 * 24 * time.Hour // see world.walkInFrom
	agents       = 40
)

// storeSite is a store and its landline, the number the till records for a
// customer who gives none (the walk-in number). Numbers are Ofcom's drama
// ranges, valid but never assigned.
type storeSite struct{ city, walkIn string }

var storeSites = []storeSite{
	{"London Oxford Street", "+44 20 7946 0001"},
	{"Manchester Arndale", "+44 161 496 0002"},
	{"Birmingham Bullring", "+44 121 496 0003"},
	{"Leeds Trinity", "+44 113 496 0004"},
	{"Glasgow Buchanan", "+44 141 496 0005"},
	{"Bristol Cabot", "+44 117 496 0006"},
	{"Liverpool One", "+44 151 496 0007"},
	{"Edinburgh Princes Street", "+44 131 496 0008"},
	{"Cardiff Queen Street", "+44 29 2018 0009"},
	{"Leicester Highcross", "+44 116 496 0010"},
	{"London Westfield", "+44 20 7946 0011"},
	{"Sheffield Meadowhall", "+44 114 496 0012"},
}

// store is one of the retailer's shops.
type store struct {
	id, city  string
	walkIn    string // as the till types it
	walkInKey string // "phone:<E.164>"
	registers int
	staff     int
}

// product is a catalogue line.
type product struct {
	sku, name, category string
	price               float64
}

type category struct {
	name       string
	nouns      []string
	lo, hi     float64 // price range
	queries    []string
	returnRate float64 // share of purchases returned
}

var categories = []category{
	{"coats", []string{"Wool Coat", "Parka", "Puffer Jacket", "Trench Coat", "Rain Jacket"}, 59, 229, []string{"winter coat", "parka", "rain jacket", "puffer"}, 0.12},
	{"knitwear", []string{"Merino Jumper", "Cardigan", "Roll Neck", "Cable Knit"}, 25, 89, []string{"jumper", "cardigan", "merino"}, 0.08},
	{"shoes", []string{"Chelsea Boots", "Trainers", "Loafers", "Ankle Boots", "Sandals"}, 35, 139, []string{"chelsea boots", "trainers", "boots size 6", "loafers"}, 0.15},
	{"jeans", []string{"Slim Jeans", "Straight Jeans", "Mom Jeans", "Bootcut Jeans"}, 29, 79, []string{"jeans", "slim jeans", "black jeans"}, 0.14},
	{"shirts", []string{"Oxford Shirt", "Linen Shirt", "Blouse", "Flannel Shirt"}, 18, 55, []string{"white shirt", "linen shirt", "blouse"}, 0.07},
	{"accessories", []string{"Scarf", "Leather Belt", "Beanie", "Tote Bag", "Gloves"}, 8, 45, []string{"scarf", "belt", "tote bag", "gloves"}, 0.03},
	{"home", []string{"Throw", "Cushion", "Table Lamp", "Bath Towel Set", "Candle"}, 10, 119, []string{"cushions", "throw blanket", "lamp", "candles"}, 0.05},
	{"beauty", []string{"Hand Cream", "Eau de Toilette", "Lip Balm", "Body Wash"}, 5, 49, []string{"perfume", "hand cream", "gift set"}, 0.02},
}

var colours = []string{"Black", "Navy", "Camel", "Grey", "Olive", "Cream", "Burgundy", "Charcoal", "Stone", "Rust"}

// Contact centre.
var (
	queuesByReason = map[string]string{
		"order_status": "orders", "delivery_date": "orders", "refund": "returns", "return": "returns",
		"payment": "billing", "product": "general", "complaint": "general",
	}
	referrers = []string{"https://www.google.com/", "https://www.google.com/", "https://www.bing.com/",
		"https://www.instagram.com/", "https://www.facebook.com/", "https://mail.example.com/", ""}
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	}
	firstNames = []string{"ann", "ben", "chloe", "dev", "emma", "finn", "grace", "harry", "isla", "jack", "kate", "leo",
		"mia", "noah", "olivia", "priya", "quinn", "ruby", "sam", "tara", "umar", "vera", "will", "xena", "yusuf", "zoe",
		"amir", "beth", "carl", "dina", "eli", "fatima", "george", "hana", "ivan", "jade", "kofi", "lucy", "max", "nina"}
	lastNames = []string{"smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel", "wright",
		"robinson", "thompson", "evans", "walker", "white", "roberts", "green", "hall", "wood", "jackson", "clarke",
		"khan", "lewis", "hughes", "edwards", "turner", "hill", "moore", "cooper", "ward", "morris", "king", "baker"}
	emailDomains = []string{"gmail.com", "gmail.com", "gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.co.uk",
		"icloud.com", "btinternet.com", "sky.com"}
	// UK mobile prefixes libphonenumber knows as valid (07913 xxxxxx etc.; not all of 0791x is):
	// every number under them with six more digits is valid.
	mobilePrefixes = []string{"7913", "7912", "7920", "7941", "7956", "7971", "7812", "7540", "7412", "7305"}
)

// world is the retailer and its customers, before their lives are played.
type world struct {
	cfg        Config
	start, end int64 // period, epoch ms
	walkInFrom int64 // walk-in numbers are recorded only from here (see below)
	stores     []store
	catalogue  []product
	byCategory [][]int // catalogue indices per category
	persons    []*person
	households []*household
}

// person is one simulated customer and the identifiers the channels know
// them by. Raw forms are what people and systems type; keys are
// "type:normalised value", as ingest publishes them.
type person struct {
	idx       int
	first     string
	last      string
	emails    []email // own addresses, primary first
	phone     *phone
	userID    string
	loyaltyID string
	tokens    []string
	browsers  []*browser
	app       *install // the app on the person's own phone
	household *household
	homeStore int
	activity  float64 // journeys per week
	likes     []int   // favourite categories
}

type email struct{ raw, norm string }

type phone struct {
	raws []string // the forms different systems write
	norm string   // E.164
}

// browser is a web browser; its cookie holds the anonymous id, which the
// person sometimes clears.
type browser struct {
	anon string
	ua   string
}

// install is an app installation: the device and the app's anonymous id.
type install struct {
	device, anon, platform, version string
}

// household is two persons sharing a family tablet. Only its owner (the
// first member with a web account, if any) logs in on it; the other member
// browses anonymously. See Truth for what the identity rules make of that.
type household struct {
	members []*person
	owner   *person // nil when neither member has an account
	tablet  *install
}

func newWorld(cfg Config) (*world, error) {
	w := &world{
		cfg:   cfg,
		start: cfg.Start.UnixMilli(),
		end:   cfg.Start.Add(time.Duration(cfg.Days) * 24 * time.Hour).UnixMilli(),
	}
	// The tills record the walk-in number only in the last 29 days of the
	// period, so that all its uses fall within the identity rules' 30-day hub
	// window and whether it becomes a hub cannot depend on arrival order.
	w.walkInFrom = max(w.start, w.end-walkInWindow.Milliseconds())
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0f_7e7a11e7))
	if err := w.makeStores(rng); err != nil {
		return nil, err
	}
	w.makeCatalogue(rng)
	if err := w.makePersons(rng); err != nil {
		return nil, err
	}
	w.makeHouseholds(rng)
	return w, nil
}

func (w *world) makeStores(rng *rand.Rand) error {
	for i := range w.cfg.Stores {
		site := storeSites[i]
		norm, err := normalize.Phone(site.walkIn, "")
		if err != nil {
			return fmt.Errorf("walk-in number of %s: %w", site.city, err)
		}
		w.stores = append(w.stores, store{
			id: fmt.Sprintf("S-%02d", i+1), city: site.city, walkIn: site.walkIn, walkInKey: "phone:" + norm,
			registers: 3 + rng.IntN(6), staff: 8 + rng.IntN(16),
		})
	}
	return nil
}

func (w *world) makeCatalogue(rng *rand.Rand) {
	w.byCategory = make([][]int, len(categories))
	n := 10001
	for ci, c := range categories {
		for _, noun := range c.nouns {
			for _, col := range colours {
				if rng.Float64() < 0.35 {
					continue
				}
				// Prices end in .99 or .00 like real tickets, log-uniform in the range.
				p := math.Exp(math.Log(c.lo) + rng.Float64()*(math.Log(c.hi)-math.Log(c.lo)))
				price := math.Floor(p) + 0.99
				if rng.IntN(3) == 0 {
					price = math.Round(p)
				}
				w.byCategory[ci] = append(w.byCategory[ci], len(w.catalogue))
				w.catalogue = append(w.catalogue, product{
					sku: fmt.Sprintf("SKU-%05d", n), name: col + " " + noun, category: c.name, price: price,
				})
				n++
			}
		}
	}
}

// Shares of persons with each identifier.
const (
	emailRate       = 0.90
	secondEmailRate = 0.15
	phoneRate       = 0.85
	accountRate     = 0.55 // web accounts (user_id); everyone with one has an email
	appRate         = 0.55 // of account holders: the app on their own phone
	loyaltyRate     = 0.50
	secondBrowser   = 0.30
	iosShare        = 0.55
)

// makePersons draws every person's identifiers from one stream, keeping
// values unique across persons (a taken set), so that no identifier is
// shared by accident: sharing happens only where a scenario says so.
func (w *world) makePersons(rng *rand.Rand) error {
	taken := map[string]bool{}
	unique := func(typ string, draw func() string) string {
		for {
			if v := draw(); !taken[typ+":"+v] {
				taken[typ+":"+v] = true
				return v
			}
		}
	}
	hex := func(n int) string { return randHex(rng, n) }
	for i := range w.cfg.Customers {
		p := &person{idx: i, first: pick(rng, firstNames), last: pick(rng, lastNames)}
		p.homeStore = rng.IntN(len(w.stores))
		// Activity: journeys per week, log-normal — most shop now and then, a few very often.
		p.activity = 0.45 * math.Exp(rng.NormFloat64()*0.7)
		p.likes = []int{rng.IntN(len(categories)), rng.IntN(len(categories))}
		hasAccount := rng.Float64() < accountRate
		if hasAccount || rng.Float64() < emailRate {
			n := 1
			if rng.Float64() < secondEmailRate {
				n = 2
			}
			for len(p.emails) < n {
				raw := w.emailFor(rng, p)
				norm, err := normalize.Email(raw)
				if err != nil {
					return fmt.Errorf("generated email %q: %w", raw, err)
				}
				if taken["email:"+norm] { // unique once normalised, not as typed
					continue
				}
				taken["email:"+norm] = true
				p.emails = append(p.emails, email{raw: raw, norm: norm})
			}
		}
		if rng.Float64() < phoneRate {
			national := unique("phone", func() string {
				return pick(rng, mobilePrefixes) + fmt.Sprintf("%06d", rng.IntN(1_000_000))
			})
			// Three forms of one number: web forms, tills, the phone system.
			p.phone = &phone{
				raws: []string{"+44 " + national[:4] + " " + national[4:], "+44" + national, "+44 (0)" + national[:4] + " " + national[4:]},
				norm: "+44" + national,
			}
		}
		if hasAccount {
			p.userID = unique("user_id", func() string { return fmt.Sprintf("u-%07d", 1_000_000+rng.IntN(9_000_000)) })
			if rng.Float64() < appRate {
				p.app = w.newInstall(rng, unique, rng.Float64() < iosShare)
			}
		}
		if rng.Float64() < loyaltyRate {
			p.loyaltyID = unique("loyalty_id", func() string { return fmt.Sprintf("L-%08d", rng.IntN(100_000_000)) })
		}
		for range 1 + rng.IntN(3) {
			p.tokens = append(p.tokens, unique("payment_token", func() string { return "tok_" + hex(16) }))
		}
		p.browsers = append(p.browsers, &browser{ua: pick(rng, userAgents)})
		if rng.Float64() < secondBrowser {
			p.browsers = append(p.browsers, &browser{ua: pick(rng, userAgents)})
		}
		w.persons = append(w.persons, p)
	}
	// The normaliser must accept the phone forms used: check one person's
	// (the forms are the same for everyone).
	for _, p := range w.persons {
		if p.phone == nil {
			continue
		}
		for _, raw := range p.phone.raws {
			if norm, err := normalize.Phone(raw, ""); err != nil || norm != p.phone.norm {
				return fmt.Errorf("generated phone %q normalises to %q (%v), want %q", raw, norm, err, p.phone.norm)
			}
		}
		break
	}
	return nil
}

// emailFor invents an address as its owner types it ("Ann.Smith@Gmail.com").
func (w *world) emailFor(rng *rand.Rand, p *person) string {
	var local string
	switch rng.IntN(4) {
	case 0:
		local = capitalise(p.first) + "." + capitalise(p.last)
	case 1:
		local = p.first + p.last + fmt.Sprint(rng.IntN(100))
	case 2:
		local = p.first[:1] + "." + p.last + fmt.Sprint(1950+rng.IntN(56))
	default:
		local = p.first + "_" + p.last + fmt.Sprint(rng.IntN(1000))
	}
	domain := pick(rng, emailDomains)
	if rng.IntN(4) == 0 {
		domain = capitalise(domain)
	}
	return local + "@" + domain
}

func (w *world) newInstall(rng *rand.Rand, unique func(string, func() string) string, ios bool) *install {
	in := &install{platform: "android", version: appVersionA}
	if ios {
		in.platform = "ios"
	}
	if rng.IntN(2) == 0 {
		in.version = appVersionB
	}
	in.device = unique("device_id", func() string { return "dev-" + uuidString(rng) })
	in.anon = unique("anonymous_id", func() string { return uuidString(rng) })
	return in
}

// makeHouseholds pairs HouseholdRate of the persons into households with a
// family tablet.
func (w *world) makeHouseholds(rng *rand.Rand) {
	want := int(w.cfg.HouseholdRate * float64(len(w.persons)) / 2)
	order := rng.Perm(len(w.persons))
	taken := map[string]bool{}
	unique := func(typ string, draw func() string) string {
		for {
			// Device and anonymous ids are UUIDs: a clash with a person's own
			// install is as likely as two equal UUIDs, and checked by the truth.
			if v := draw(); !taken[typ+":"+v] {
				taken[typ+":"+v] = true
				return v
			}
		}
	}
	for i := 0; i < want && 2*i+1 < len(order); i++ {
		a, b := w.persons[order[2*i]], w.persons[order[2*i+1]]
		h := &household{members: []*person{a, b}, tablet: w.newInstall(rng, unique, true)}
		h.tablet.platform = "ipados"
		for _, m := range h.members {
			if m.userID != "" {
				h.owner = m
				break
			}
		}
		a.household, b.household = h, h
		b.homeStore = a.homeStore
		w.households = append(w.households, h)
	}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func pick[T any](rng *rand.Rand, list []T) T { return list[rng.IntN(len(list))] }

const hexDigits = "0123456789abcdef"

func randHex(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	var x uint64
	for i := range b {
		if i%16 == 0 {
			x = rng.Uint64()
		}
		b[i] = hexDigits[x&15]
		x >>= 4
	}
	return string(b)
}

// uuidString is a random (version 4 shaped) UUID from rng.
func uuidString(rng *rand.Rand) string {
	hi, lo := rng.Uint64(), rng.Uint64()
	hi = hi&^0xf000 | 0x4000         // version 4
	lo = lo&^(0xc<<60) | (0x8 << 60) // variant 10
	b := make([]byte, 0, 36)
	for i := 15; i >= 0; i-- {
		b = append(b, hexDigits[(hi>>(uint(i)*4))&15])
		if i == 8 || i == 4 {
			b = append(b, '-')
		}
	}
	b = append(b, '-')
	for i := 15; i >= 0; i-- {
		b = append(b, hexDigits[(lo>>(uint(i)*4))&15])
		if i == 12 {
			b = append(b, '-')
		}
	}
	return string(b)
}
