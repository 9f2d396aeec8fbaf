package realdata

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RetailRow is one line of the Online Retail file, as written.
type RetailRow struct {
	Invoice, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country string
}

// ReadRetail reads an Online Retail CSV (gzipped or not), every row, in file order.
func ReadRetail(path string) ([]RetailRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("realdata: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("realdata: %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("realdata: %s: header: %w", path, err)
	}
	want := []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"}
	if strings.Join(header, ",") != strings.Join(want, ",") {
		return nil, fmt.Errorf("realdata: %s: header %v, want %v", path, header, want)
	}
	var rows []RetailRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("realdata: %s: %w", path, err)
		}
		rows = append(rows, RetailRow{rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7]})
	}
}

// Invoice is one event the Online Retail mapping produces: the kept lines of
// one InvoiceNo.
type Invoice struct {
	No       string
	Time     time.Time // InvoiceDate of its first kept line (UTC)
	Customer string    // "loyalty_id:17850" or "anonymous_id:walk-in-<No>"
	Country  string
	Return   bool  // a cancellation (C…), or a negative total
	Total    Milli // Σ quantity × price
	Lines    int
}

// RetailImport is what importing the file through the mapping must give.
type RetailImport struct {
	Rows           int
	BadDebtRows    int // InvoiceNo A…: rejected
	StockRows      int // price 0 and no customer: rejected
	DuplicateRows  int // identical to an earlier line of the invoice: dropped
	Invoices       []Invoice
	IdentifiedCust int // distinct CustomerIDs among kept lines
}

// ImportRetail applies the mapping's decisions to the rows, independently of
// the mapping code: A-invoices and zero-price lines without a customer are
// rejected; exact duplicate lines of an invoice count once; the kept lines of
// each InvoiceNo (wherever they are in the file) form one invoice, timed by
// its first kept line.
func ImportRetail(rows []RetailRow) (RetailImport, error) {
	out := RetailImport{Rows: len(rows)}
	byNo := map[string]*Invoice{}
	seen := map[RetailRow]bool{}
	customers := map[string]bool{}
	for i, r := range rows {
		if strings.HasPrefix(r.Invoice, "A") {
			out.BadDebtRows++
			continue
		}
		price, err := ParseMilli(r.UnitPrice)
		if err != nil {
			return out, fmt.Errorf("row %d: UnitPrice: %w", i+1, err)
		}
		if price == 0 && strings.TrimSpace(r.CustomerID) == "" {
			out.StockRows++
			continue
		}
		if seen[r] {
			out.DuplicateRows++
			continue
		}
		seen[r] = true
		qty, err := strconv.ParseInt(r.Quantity, 10, 64)
		if err != nil {
			return out, fmt.Errorf("row %d: Quantity %q", i+1, r.Quantity)
		}
		inv := byNo[r.Invoice]
		if inv == nil {
			t, err := time.Parse(time.DateTime, r.InvoiceDate)
			if err != nil {
				return out, fmt.Errorf("row %d: InvoiceDate %q", i+1, r.InvoiceDate)
			}
			inv = &Invoice{No: r.Invoice, Time: t, Country: r.Country, Return: strings.HasPrefix(r.Invoice, "C")}
			if r.CustomerID == "" {
				inv.Customer = "anonymous_id:walk-in-" + r.Invoice
			} else {
				id, ok := strings.CutSuffix(r.CustomerID, ".0")
				if !ok {
					return out, fmt.Errorf("row %d: CustomerID %q is not N.0", i+1, r.CustomerID)
				}
				inv.Customer = "loyalty_id:" + id
				customers[id] = true
			}
			byNo[r.Invoice] = inv
			out.Invoices = append(out.Invoices, *inv) // placeholder, refreshed below
		}
		inv.Total += Milli(qty) * price
		inv.Lines++
	}
	for i := range out.Invoices {
		inv := byNo[out.Invoices[i].No]
		if inv.Total < 0 {
			inv.Return = true
		}
		out.Invoices[i] = *inv
	}
	out.IdentifiedCust = len(customers)
	return out, nil
}

// MonthFigures is one row of revenue_by_month for the channel.
type MonthFigures struct {
	Month     string // 2010-12-01
	Purchases int
	Buyers    int
	Revenue   Milli
	Returns   int
	Returned  Milli // absolute
}

// RevenueByMonth groups the invoices by the month of their time.
func (ri RetailImport) RevenueByMonth() []MonthFigures {
	months := map[string]*MonthFigures{}
	buyers := map[string]map[string]bool{}
	for _, inv := range ri.Invoices {
		m := inv.Time.Format("2006-01") + "-01"
		f := months[m]
		if f == nil {
			f = &MonthFigures{Month: m}
			months[m] = f
			buyers[m] = map[string]bool{}
		}
		if inv.Return {
			f.Returns++
			f.Returned += abs(inv.Total)
			continue
		}
		f.Purchases++
		f.Revenue += inv.Total
		buyers[m][inv.Customer] = true
	}
	out := make([]MonthFigures, 0, len(months))
	for m, f := range months {
		f.Buyers = len(buyers[m])
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Month < out[j].Month })
	return out
}

func abs(m Milli) Milli {
	if m < 0 {
		return -m
	}
	return m
}

// RFM is one customer's row of rfm_segments.
type RFM struct {
	LastPurchase string // 2011-12-09
	RecencyDays  int
	Frequency    int
	Monetary     Milli
	R, F, M      int
	Segment      string
}

// RFMAsOf scores every customer with a purchase on or before asOf, with the
// fixed thresholds and segments of rfm_segments.sql, keyed by Invoice.Customer.
func (ri RetailImport) RFMAsOf(asOf time.Time) map[string]RFM {
	type facts struct {
		last      time.Time
		purchases int
		frequency int
		monetary  Milli
	}
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	asOf = day(asOf)
	windowStart := asOf.AddDate(0, 0, -365) // the window is (as_of - 365, as_of]
	per := map[string]*facts{}
	for _, inv := range ri.Invoices {
		d := day(inv.Time)
		if d.After(asOf) {
			continue
		}
		f := per[inv.Customer]
		if f == nil {
			f = &facts{}
			per[inv.Customer] = f
		}
		inWindow := d.After(windowStart)
		if inWindow {
			f.monetary += inv.Total
		}
		if inv.Return {
			continue
		}
		f.purchases++
		if d.After(f.last) {
			f.last = d
		}
		if inWindow {
			f.frequency++
		}
	}
	out := map[string]RFM{}
	for c, f := range per {
		if f.purchases == 0 {
			continue
		}
		rec := int(asOf.Sub(f.last).Hours() / 24)
		s := RFM{LastPurchase: f.last.Format(time.DateOnly), RecencyDays: rec, Frequency: f.frequency, Monetary: f.monetary}
		s.R = score(float64(rec), []float64{30, 90, 180, 365}, true)
		switch {
		case f.frequency >= 10:
			s.F = 5
		case f.frequency >= 5:
			s.F = 4
		case f.frequency >= 3:
			s.F = 3
		case f.frequency == 2:
			s.F = 2
		default:
			s.F = 1
		}
		// The query scores the monetary value it shows, rounded to cents.
		s.M = score(Round2(f.monetary.Float()), []float64{1000, 500, 200, 50}, false)
		switch {
		case s.R >= 4 && s.F >= 4:
			s.Segment = "champions"
		case s.R >= 3 && s.F >= 3:
			s.Segment = "loyal"
		case s.R == 5 && s.F == 1:
			s.Segment = "new"
		case s.R >= 4:
			s.Segment = "promising"
		case s.R == 3:
			s.Segment = "needs_attention"
		case s.F >= 3:
			s.Segment = "at_risk"
		case s.R == 2:
			s.Segment = "hibernating"
		default:
			s.Segment = "lost"
		}
		out[c] = s
	}
	return out
}

// score gives 5 for the first threshold met, 4 for the second, ... 1 for
// none: at most the threshold (recency, lower is better) or at least it.
func score(v float64, thresholds []float64, atMost bool) int {
	for i, t := range thresholds {
		if (atMost && v <= t) || (!atMost && v >= t) {
			return 5 - i
		}
	}
	return 1
}
