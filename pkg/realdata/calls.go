package realdata

import (
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

// CallRow is one row of the bank's call log, as written (CRLF stripped).
type CallRow struct {
	VRULine, CallID, CustomerID, Priority, Type, Date string
	VRUEntry, VRUExit, VRUTime, QStart, QExit, QTime  string
	Outcome, SerStart, SerExit, SerTime, Server       string
}

// ReadCalls reads the bank's TSV, every row, in file order.
func ReadCalls(path string) ([]CallRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("realdata: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comma = '\t'
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("realdata: %s: header: %w", path, err)
	}
	want := "vru+line call_id customer_id priority type date vru_entry vru_exit vru_time q_start q_exit q_time outcome ser_start ser_exit ser_time server"
	if strings.Join(header, " ") != want {
		return nil, fmt.Errorf("realdata: %s: header %v", path, header)
	}
	var rows []CallRow
	for {
		r, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("realdata: %s: %w", path, err)
		}
		rows = append(rows, CallRow{r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16]})
	}
}

// Call is one event the bank mapping produces.
type Call struct {
	EventID    string
	Time       time.Time // date + vru_entry (UTC)
	Customer   string    // "user_id:<customer_id>" or "anonymous_id:<event id>"
	Identified bool
	Queue      string // type
	Answered   bool   // AGENT; HANG is abandoned
	Wait       float64
	Handle     *float64   // ser_time, unknown when ser_start is 0:00:00
	AnsweredAt *time.Time // date + ser_start, the next day when the call crossed midnight
}

// CallImport is what importing the call log through the mapping must give.
type CallImport struct {
	Rows     int
	Phantom  int // rejected
	Calls    []Call
	Midnight int // answered calls whose answer fell on the next day
}

// ImportCalls applies the mapping's decisions to the rows, independently of
// the mapping code.
func ImportCalls(rows []CallRow) (CallImport, error) {
	out := CallImport{Rows: len(rows)}
	for i, r := range rows {
		switch r.Outcome {
		case "PHANTOM":
			out.Phantom++
			continue
		case "AGENT", "HANG":
		default:
			return out, fmt.Errorf("row %d: outcome %q", i+1, r.Outcome)
		}
		day, err := time.Parse("060102", r.Date)
		if err != nil {
			return out, fmt.Errorf("row %d: date %q", i+1, r.Date)
		}
		entry, err := seconds(r.VRUEntry)
		if err != nil {
			return out, fmt.Errorf("row %d: %w", i+1, err)
		}
		c := Call{
			EventID: "bank-call-" + r.VRULine + "-" + r.CallID,
			Time:    day.Add(time.Duration(entry) * time.Second),
			Queue:   r.Type, Answered: r.Outcome == "AGENT",
		}
		if r.CustomerID != "0" {
			c.Customer, c.Identified = "user_id:"+r.CustomerID, true
		} else {
			c.Customer = "anonymous_id:" + c.EventID
		}
		if c.Wait, err = strconv.ParseFloat(r.QTime, 64); err != nil {
			return out, fmt.Errorf("row %d: q_time %q", i+1, r.QTime)
		}
		if r.SerStart != "0:00:00" {
			h, err := strconv.ParseFloat(r.SerTime, 64)
			if err != nil {
				return out, fmt.Errorf("row %d: ser_time %q", i+1, r.SerTime)
			}
			c.Handle = &h
			start, err := seconds(r.SerStart)
			if err != nil {
				return out, fmt.Errorf("row %d: %w", i+1, err)
			}
			at := day.Add(time.Duration(start) * time.Second)
			if start < entry-12*3600 {
				at = at.Add(24 * time.Hour)
				out.Midnight++
			}
			c.AnsweredAt = &at
		}
		out.Calls = append(out.Calls, c)
	}
	return out, nil
}

func seconds(clock string) (int, error) {
	var h, m, s int
	if _, err := fmt.Sscanf(clock, "%d:%d:%d", &h, &m, &s); err != nil {
		return 0, fmt.Errorf("clock time %q: %w", clock, err)
	}
	return h*3600 + m*60 + s, nil
}

// KPI is one row of contact_centre_kpis (all calls are inbound). Means and
// shares are nil when they have nothing to average.
type KPI struct {
	Day, Queue                        string
	Offered, Answered, Abandoned, FCR int
	AbandonmentPct                    float64
	ASA, AHT, FCRPct                  *float64
}

// KPIs computes contact_centre_kpis per day and queue. A call is resolved at
// first contact unless the same customer called again within 7 days after it
// (the next of their calls in time order, ties by event id); calls carry no
// reason, so every call of a customer counts.
func (ci CallImport) KPIs() []KPI {
	repeat := ci.repeats()
	type acc struct {
		KPI
		waitSum, handleSum float64
		handles            int
	}
	per := map[[2]string]*acc{}
	for i, c := range ci.Calls {
		k := [2]string{c.Time.Format(time.DateOnly), c.Queue}
		a := per[k]
		if a == nil {
			a = &acc{KPI: KPI{Day: k[0], Queue: k[1]}}
			per[k] = a
		}
		a.Offered++
		if !c.Answered {
			a.Abandoned++
			continue
		}
		a.Answered++
		a.waitSum += c.Wait
		if c.Handle != nil {
			a.handleSum += *c.Handle
			a.handles++
		}
		if !repeat[i] {
			a.FCR++
		}
	}
	out := make([]KPI, 0, len(per))
	for _, a := range per {
		k := a.KPI
		k.AbandonmentPct = Round2(float64(100*k.Abandoned) / float64(k.Offered))
		if k.Answered > 0 {
			k.ASA = ptr(Round2(a.waitSum / float64(k.Answered)))
			k.FCRPct = ptr(Round2(float64(100*k.FCR) / float64(k.Answered)))
		}
		if a.handles > 0 {
			k.AHT = ptr(Round2(a.handleSum / float64(a.handles)))
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Day < out[j].Day || (out[i].Day == out[j].Day && out[i].Queue < out[j].Queue)
	})
	return out
}

// repeats flags each call followed by another call of the same customer
// within 7 days.
func (ci CallImport) repeats() []bool {
	byCustomer := map[string][]int{}
	for i, c := range ci.Calls {
		byCustomer[c.Customer] = append(byCustomer[c.Customer], i)
	}
	out := make([]bool, len(ci.Calls))
	for _, idx := range byCustomer {
		sort.Slice(idx, func(a, b int) bool {
			ca, cb := ci.Calls[idx[a]], ci.Calls[idx[b]]
			return ca.Time.Before(cb.Time) || (ca.Time.Equal(cb.Time) && ca.EventID < cb.EventID)
		})
		for j := 0; j+1 < len(idx); j++ {
			out[idx[j]] = ci.Calls[idx[j+1]].Time.Sub(ci.Calls[idx[j]].Time) <= 7*24*time.Hour
		}
	}
	return out
}

// Hour is one row of calls_by_hour.
type Hour struct {
	Hour, Offered, Answered, Abandoned int
	AbandonmentPct, SharePct           float64
	ASA                                *float64
}

// ByHour computes calls_by_hour: calls by the hour they came in.
func (ci CallImport) ByHour() []Hour {
	per := map[int]*Hour{}
	waits := map[int]float64{}
	for _, c := range ci.Calls {
		h := per[c.Time.Hour()]
		if h == nil {
			h = &Hour{Hour: c.Time.Hour()}
			per[h.Hour] = h
		}
		h.Offered++
		if c.Answered {
			h.Answered++
			waits[h.Hour] += c.Wait
		} else {
			h.Abandoned++
		}
	}
	out := make([]Hour, 0, len(per))
	for _, h := range per {
		h.AbandonmentPct = Round2(float64(100*h.Abandoned) / float64(h.Offered))
		h.SharePct = Round2(float64(100*h.Offered) / float64(len(ci.Calls)))
		if h.Answered > 0 {
			h.ASA = ptr(Round2(waits[h.Hour] / float64(h.Answered)))
		}
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hour < out[j].Hour })
	return out
}

// Callers is the one row of repeat_callers.
type Callers struct {
	Callers, Repeat, AnonymousCalls int
	RepeatPct, CallsPerCaller       float64
	Identified                      int // distinct identified customers (= Callers here)
}

// RepeatCallers counts identified callers and those who called twice or more.
func (ci CallImport) RepeatCallers() Callers {
	calls := map[string]int{}
	var out Callers
	identifiedCalls := 0
	for _, c := range ci.Calls {
		if !c.Identified {
			out.AnonymousCalls++
			continue
		}
		calls[c.Customer]++
		identifiedCalls++
	}
	out.Callers, out.Identified = len(calls), len(calls)
	for _, n := range calls {
		if n >= 2 {
			out.Repeat++
		}
	}
	out.RepeatPct = Round2(float64(100*out.Repeat) / float64(out.Callers))
	out.CallsPerCaller = Round2(float64(identifiedCalls) / float64(out.Callers))
	return out
}

func ptr(f float64) *float64 { return &f }
