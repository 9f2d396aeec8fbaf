package realdata

import (
	"path/filepath"
	"testing"
	"time"
)

func dataDir(t testing.TB) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatal(err) // the datasets are part of the test bed: fail, never skip
	}
	return dir
}

// The readers reproduce the facts SOURCE.md states for each file, so the
// figures computed from them start from the same data.
func TestRealReadersReproduceSourceFacts(t *testing.T) {
	dir := dataDir(t)
	rows, err := ReadRetail(filepath.Join(dir, OnlineRetailFile))
	if err != nil {
		t.Fatal(err)
	}
	invoices, customers, anonymous, cancellations, negative, zeroPrice := map[string]bool{}, map[string]bool{}, 0, 0, 0, 0
	distinct := map[RetailRow]bool{}
	for _, r := range rows {
		invoices[r.Invoice] = true
		if r.CustomerID != "" {
			customers[r.CustomerID] = true
		} else {
			anonymous++
		}
		if r.Invoice[0] == 'C' {
			cancellations++
		}
		if r.Quantity[0] == '-' {
			negative++
		}
		if p, _ := ParseMilli(r.UnitPrice); p == 0 {
			zeroPrice++
		}
		distinct[r] = true
	}
	if len(rows) != 541909 || len(invoices) != 25900 || len(customers) != 4372 || anonymous != 135080 ||
		cancellations != 9288 || negative != 10624 || zeroPrice != 2515 || len(rows)-len(distinct) != 5268 {
		t.Errorf("online retail: rows %d, invoices %d, customers %d, no customer %d, cancellation lines %d, quantity < 0 %d, price 0 %d, duplicates %d;"+
			" SOURCE.md: 541,909, 25,900, 4,372, 135,080, 9,288, 10,624, 2,515, 5,268",
			len(rows), len(invoices), len(customers), anonymous, cancellations, negative, zeroPrice, len(rows)-len(distinct))
	}
	if rows[0].InvoiceDate != "2010-12-01 08:26:00" || rows[len(rows)-1].InvoiceDate != "2011-12-09 12:50:00" {
		t.Errorf("time range %s .. %s", rows[0].InvoiceDate, rows[len(rows)-1].InvoiceDate)
	}

	calls, err := ReadCalls(filepath.Join(dir, BankCallsFile))
	if err != nil {
		t.Fatal(err)
	}
	outcomes, queued, ids := map[string]int{}, 0, map[string]int{}
	for _, c := range calls {
		outcomes[c.Outcome]++
		if c.QStart != "0:00:00" {
			queued++
		}
		if c.CustomerID != "0" {
			ids[c.CustomerID]++
		}
	}
	repeat, identified := 0, 0
	for _, n := range ids {
		identified += n
		if n > 1 {
			repeat++
		}
	}
	if len(calls) != 33344 || outcomes["AGENT"] != 27162 || outcomes["HANG"] != 5904 || outcomes["PHANTOM"] != 278 ||
		queued != 18336 || identified != 13786 || len(ids) != 4081 || repeat != 2130 {
		t.Errorf("bank calls: rows %d, outcomes %v, queued %d, identified calls %d, customers %d, repeat %d;"+
			" SOURCE.md: 33,344, AGENT 27,162 HANG 5,904 PHANTOM 278, 18,336, 13,786, 4,081, 2,130",
			len(calls), outcomes, queued, identified, len(ids), repeat)
	}
}

// What the mappings' decisions leave of each file, as the pipeline test
// expects it (and the README states it).
func TestRealImportDecisions(t *testing.T) {
	dir := dataDir(t)
	rows, err := ReadRetail(filepath.Join(dir, OnlineRetailFile))
	if err != nil {
		t.Fatal(err)
	}
	ri, err := ImportRetail(rows)
	if err != nil {
		t.Fatal(err)
	}
	returns, anonymous := 0, 0
	for _, inv := range ri.Invoices {
		if inv.Return {
			returns++
		}
		if inv.Customer[0] == 'a' {
			anonymous++
		}
	}
	t.Logf("online retail: %d rows: %d bad-debt and %d stock-adjustment rows rejected, %d duplicate rows dropped; %d invoices (%d returns), %d customers and %d anonymous walk-ins",
		ri.Rows, ri.BadDebtRows, ri.StockRows, ri.DuplicateRows, len(ri.Invoices), returns, ri.IdentifiedCust, anonymous)
	if ri.BadDebtRows != 3 || ri.StockRows != 2475 || ri.IdentifiedCust != 4372 {
		t.Errorf("bad debt %d (want 3), stock %d (want 2475 = 2,515 zero-price - 40 with a customer), customers %d (want 4,372)", ri.BadDebtRows, ri.StockRows, ri.IdentifiedCust)
	}

	calls, err := ReadCalls(filepath.Join(dir, BankCallsFile))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := ImportCalls(calls)
	if err != nil {
		t.Fatal(err)
	}
	cc := ci.RepeatCallers()
	t.Logf("bank calls: %d rows, %d PHANTOM rejected; %d calls, %d answered after midnight; %d identified callers, %d repeat, %d anonymous calls",
		ci.Rows, ci.Phantom, len(ci.Calls), ci.Midnight, cc.Callers, cc.Repeat, cc.AnonymousCalls)
	if ci.Phantom != 278 || len(ci.Calls) != 33066 || cc.Callers != 4021 || cc.Repeat != 2086 {
		t.Errorf("phantom %d, calls %d, callers %d, repeat %d; want 278, 33,066, 4,021, 2,086", ci.Phantom, len(ci.Calls), cc.Callers, cc.Repeat)
	}
	// Call 31056 entered on the 15th at 23:59:54 and was answered at 0:00:26.
	for _, c := range ci.Calls {
		if c.EventID == "bank-call-AA0102-31056" && (c.AnsweredAt == nil || !c.AnsweredAt.Equal(time.Date(1999, 2, 16, 0, 0, 26, 0, time.UTC))) {
			t.Errorf("call 31056 answered at %v", c.AnsweredAt)
		}
	}
	if ci.Midnight == 0 {
		t.Error("no call crossed midnight")
	}
}

func TestRealMilliAndRounding(t *testing.T) {
	for s, want := range map[string]Milli{"2.55": 2550, "0.001": 1, "11062.06": 11062060, "-11062.06": -11062060, "0.0": 0, "3": 3000, "1.5": 1500} {
		if got, err := ParseMilli(s); err != nil || got != want {
			t.Errorf("ParseMilli(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	if _, err := ParseMilli("1.0001"); err == nil {
		t.Error("four decimals accepted")
	}
	if Num(Round2(100.0/7)) != "14.29" || Num(Round2(200.0/3)) != "66.67" || Num(Round2(50)) != "50" || Num(Round2(100.0/32)) != "3.13" {
		t.Errorf("Round2: %s %s %s %s", Num(Round2(100.0/7)), Num(Round2(200.0/3)), Num(Round2(50)), Num(Round2(100.0/32)))
	}
}
