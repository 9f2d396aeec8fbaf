package marts

// Case is one run of an example query on the fixture and its exact answer:
// the parameter values, the column names and the rows, each value written as
// Render writes it (NULL, 2024-03-01, 2024-03-01 10:00:00, 66.67, [a,b]).
type Case struct {
	Params  map[string]string
	Columns []string
	Rows    [][]string
}

// Expected returns the exact answers of every query in schemas/clickhouse/
// queries on the fixture, by query name, worked out by hand from the events
// in fixture.go (the comments show the arithmetic).
//
// What every answer relies on: the journey holds 36 events, one per event_id
// (a1 and a3 are stored twice; a3's version 200 with total 120 wins over
// version 100 with total 100). bob-app → bob-web → cust-bob is followed, so
// b1 and b2 belong to cust-bob. cust-dan (erasures, also under dan-web) and
// cust-eve (tombstone, no identity_map row) are left out; bob-web and
// bob-app are tombstoned too, but merged, so their events stay.
func Expected() map[string][]Case {
	return map[string][]Case{
		"customer_journey": {
			{
				// Any id of cust-bob gives his whole journey: bob-app → bob-web
				// (its own latest identity_map row) → cust-bob.
				Params: map[string]string{"customer_id": "bob-app"},
				Columns: []string{"event_time", "channel", "phase", "type", "event_id", "resolved_customer_id",
					"store_id", "order_total", "call_outcome", "wait_seconds", "survey_kind", "survey_score"},
				Rows: [][]string{
					{"2024-03-10 12:00:00", "web", "pre_visit", "page_view", "b1", "bob-web", "", "NULL", "", "NULL", "", "NULL"},
					{"2024-03-10 12:30:00", "app", "pre_visit", "screen_view", "b2", "bob-app", "", "NULL", "", "NULL", "", "NULL"},
					{"2024-03-20 11:00:00", "store", "visit", "purchase", "b3", "cust-bob", "s2", "250", "", "NULL", "", "NULL"},
					{"2024-03-21 09:00:00", "phone", "visit", "call", "b4", "cust-bob", "", "NULL", "resolved", "200", "", "NULL"},
					{"2024-03-22 10:00:00", "web", "post_visit", "survey_response", "b6", "cust-bob", "", "NULL", "", "NULL", "nps", "3"},
					{"2024-03-23 09:00:00", "phone", "visit", "call", "b5", "cust-bob", "", "NULL", "abandoned", "30", "", "NULL"},
					{"2024-03-25 16:00:00", "store", "post_visit", "return", "b7", "cust-bob", "s2", "-50", "", "NULL", "", "NULL"},
					{"2024-03-26 10:00:00", "web", "post_visit", "survey_response", "b8", "cust-bob", "", "NULL", "", "NULL", "ces", "6"},
					{"2024-03-27 10:00:00", "phone", "post_visit", "call", "b9", "cust-bob", "", "NULL", "resolved", "NULL", "", "NULL"},
				},
			},
			{
				// a1 once although stored twice; a3 with the total of its
				// newest version (120, not 100); a7 (April) before a5 (June).
				Params: map[string]string{"customer_id": "cust-ann"},
				Columns: []string{"event_time", "channel", "phase", "type", "event_id", "resolved_customer_id",
					"store_id", "order_total", "call_outcome", "wait_seconds", "survey_kind", "survey_score"},
				Rows: [][]string{
					{"2024-03-01 10:00:00", "web", "pre_visit", "page_view", "a1", "cust-ann", "", "NULL", "", "NULL", "", "NULL"},
					{"2024-03-01 10:05:00", "web", "pre_visit", "product_viewed", "a2", "cust-ann", "", "NULL", "", "NULL", "", "NULL"},
					{"2024-03-03 15:00:00", "store", "visit", "purchase", "a3", "cust-ann", "s1", "120", "", "NULL", "", "NULL"},
					{"2024-03-05 09:00:00", "web", "post_visit", "survey_response", "a4", "cust-ann", "", "NULL", "", "NULL", "csat", "5"},
					{"2024-04-06 15:00:00", "phone", "visit", "call", "a7", "cust-ann", "", "NULL", "resolved", "190", "", "NULL"},
					{"2024-06-20 12:00:00", "store", "visit", "purchase", "a5", "cust-ann", "s1", "80", "", "NULL", "", "NULL"},
					{"2024-06-21 09:00:00", "app", "post_visit", "survey_response", "a6", "cust-ann", "", "NULL", "", "NULL", "nps", "10"},
				},
			},
			// Erased customers answer nothing, by their own id or a merged one;
			// so does a tombstoned one and an id nobody has.
			journeyNone("cust-dan"), journeyNone("dan-web"), journeyNone("cust-eve"), journeyNone("nobody"),
		},

		"web_to_store_funnel": {{
			// Browsers (a web pre_visit event): ann, bob (b1), gus, hal, ivy = 5
			// (cara's web events are post_visit surveys; dan and eve are out).
			// Store event ≤ 7 days after browsing:
			//   ann a1 03-01 10:00 → a3 03-03 15:00 (2 d 5 h)   yes, a purchase
			//   bob b1 03-10 12:00 → b3 03-20 11:00 (9 d 23 h)  no
			//   gus g1 04-01 09:00 → g2 04-02 17:00 (1 d 8 h)   yes, a visit only
			//   hal h1 06-23 10:00 → h2 06-25 10:00 (2 d)       yes, a purchase
			//   ivy i1 05-10 10:00 → i2 05-30 10:00 (20 d)      no
			// visitors 3 → 100 x 3 / 5 = 60; buyers 2 (ann, hal) → 100 x 2 / 5 = 40.
			Columns: []string{"web_browsers", "store_visitors_7d", "store_buyers_7d", "visit_rate_pct", "purchase_rate_pct"},
			Rows:    [][]string{{"5", "3", "2", "60", "40"}},
		}},

		"cx_scores": {{
			// Each answer goes to the experience it rates (about_event_id):
			//   03-05 phone/''/visit   c4 NPS 9 (promoter)         → NPS 100 x (1 - 0) / 1 = 100
			//   03-05 store/s1/visit   a4 CSAT 5/5 (5 x 5/5 = 5 ≥ 4, satisfied),
			//                          c7 CSAT 6/10 (6 x 5/10 = 3 < 4, not)
			//                                                     → CSAT 100 x 1 / 2 = 50
			//   03-16 phone/''/visit   c6 CSAT 2/5                → CSAT 0
			//   03-17 phone/''/visit   c8 CES 2, no scale (7)     → CES 2 x 7 / 7 = 2
			//   03-22 phone/''/visit   b6 NPS 3 (detractor)       → NPS 100 x (0 - 1) / 1 = -100
			//   03-26 store/s2/post    b8 CES 6/7 (rates return b7) → CES 6
			//   04-07 phone/''/visit   g6 NPS 8 (passive), g7 NPS 10 (promoter)
			//                                                     → NPS 100 x (1 - 0) / 2 = 50
			//                          g8 CES 3/5                 → CES 3 x 7 / 5 = 4.2
			//   06-21 store/s1/visit   a6 NPS 10                  → NPS 100
			// dan's d2 (NPS 10) is erased.
			Columns: []string{"day", "channel", "store_id", "phase", "csat_responses", "csat_pct", "nps_responses", "nps", "ces_responses", "ces_avg"},
			Rows: [][]string{
				{"2024-03-05", "phone", "", "visit", "0", "NULL", "1", "100", "0", "NULL"},
				{"2024-03-05", "store", "s1", "visit", "2", "50", "0", "NULL", "0", "NULL"},
				{"2024-03-16", "phone", "", "visit", "1", "0", "0", "NULL", "0", "NULL"},
				{"2024-03-17", "phone", "", "visit", "0", "NULL", "0", "NULL", "1", "2"},
				{"2024-03-22", "phone", "", "visit", "0", "NULL", "1", "-100", "0", "NULL"},
				{"2024-03-26", "store", "s2", "post_visit", "0", "NULL", "0", "NULL", "1", "6"},
				{"2024-04-07", "phone", "", "visit", "0", "NULL", "2", "50", "1", "4.2"},
				{"2024-06-21", "store", "s1", "visit", "0", "NULL", "1", "100", "0", "NULL"},
			},
		}},

		"contact_centre_kpis": {{
			// Inbound calls (b9 is outbound; dan's d3 is erased; g4 has no
			// direction, so it counts as inbound):
			//   03-04 billing  c3 wait 60 handle 400; cara's next payment call
			//                  c5 is 11 days later → resolved at first contact
			//   03-15 billing  c5 wait 240 handle 500; no later call → resolved
			//   03-21 orders   b4 wait 200 handle 300; bob calls again about
			//                  order_status 2 days later (b5) → not resolved: FCR 0 / 1
			//   03-23 orders   b5 abandoned → abandonment 100; nothing answered:
			//                  ASA, AHT and FCR % are NULL
			//   04-06 orders   g4 hangup (abandoned), g5 wait 100 handle 200,
			//                  a7 wait 190 handle 250 → abandonment 100 x 1 / 3 = 33.33,
			//                  ASA (100 + 190) / 2 = 145, AHT (200 + 250) / 2 = 225;
			//                  g5 and a7 have no later call → FCR 2 / 2 = 100
			Columns: []string{"day", "queue", "offered", "answered_calls", "abandoned_calls", "abandonment_pct",
				"asa_seconds", "aht_seconds", "fcr_calls", "fcr_pct"},
			Rows: [][]string{
				{"2024-03-04", "billing", "1", "1", "0", "0", "60", "400", "1", "100"},
				{"2024-03-15", "billing", "1", "1", "0", "0", "240", "500", "1", "100"},
				{"2024-03-21", "orders", "1", "1", "0", "0", "200", "300", "0", "0"},
				{"2024-03-23", "orders", "1", "0", "1", "100", "NULL", "NULL", "0", "NULL"},
				{"2024-04-06", "orders", "3", "2", "1", "33.33", "145", "225", "2", "100"},
			},
		}},

		"friction_top_customers": {{
			// bob:  b4 wait 200 (long, 1) + b5 abandoned (2) + b6 NPS 3 (low, 3)
			//       + b7 return (2) + b8 CES 6 of 7 ≥ 0.6 x 7 = 4.2 (low, 3) = 11;
			//       b9 is outbound with no wait: nothing
			// gus:  g4 hangup (2) after a 400 s wait (1) + g8 CES 3 of 5 ≥ 0.6 x 5 = 3
			//       (low, 3) = 6; g6 NPS 8 is passive, g5 waited 100 s
			// cara: c5 wait 240 (1) + c6 CSAT 2 ≤ 0.4 x 5 = 2 (low, 3) = 4;
			//       c7 CSAT 6 of 10 > 4 and c8 CES 2 < 4.2 are not low
			// ann:  a7 wait 190 (1) = 1
			// hal and ivy have no friction, so no row; dan (abandoned, 500 s) is erased.
			Columns: []string{"customer_id", "friction_score", "low_scores", "abandoned_calls", "long_waits", "returns", "first_moment", "last_moment"},
			Rows: [][]string{
				{"cust-bob", "11", "2", "1", "1", "1", "2024-03-21 09:00:00", "2024-03-26 10:00:00"},
				{"cust-gus", "6", "1", "1", "1", "0", "2024-04-06 10:00:00", "2024-04-07 09:20:00"},
				{"cust-cara", "4", "1", "0", "1", "0", "2024-03-15 14:00:00", "2024-03-16 08:00:00"},
				{"cust-ann", "1", "0", "0", "1", "0", "2024-04-06 15:00:00", "2024-04-06 15:00:00"},
			},
		}},

		"rfm_segments": {{
			// As of 2024-06-30; the 365-day window is 2023-07-02 .. 2024-06-30,
			// which holds every purchase.
			//   ann  a3 120 + a5 80: last 06-20, 10 days → r 5; f 2 → 2; 200 → m 3;
			//        not 4/4, not 3/3, not 5/1, r ≥ 4 → promising       sum 10
			//   ivy  i2 700: last 05-30, 31 days → r 4; f 1; 700 → m 4 → promising  sum 9
			//   hal  h2 30: last 06-25, 5 days → r 5; f 1; 30 → m 1 → new          sum 7
			//   gus  g3 60 (web): last 04-05, 25 + 31 + 30 = 86 days → r 4; f 1;
			//        60 → m 2 → promising                                sum 7
			//   cara c1 40 + c2 60: last 03-01, 30 + 30 + 31 + 30 = 121 days → r 3;
			//        f 2; 100 → m 2 → needs_attention                    sum 7
			//   bob  b3 250, return b7 -50: last 03-20, 11 + 30 + 31 + 30 = 102 days
			//        → r 3; f 1 (a return is no purchase); 250 - 50 = 200 → m 3
			//        → needs_attention                                   sum 7
			// Sorted by r + f + m, then rfm descending: 523, 414, 511, 412, 322, 313.
			Params:  map[string]string{"as_of": AsOf},
			Columns: []string{"customer_id", "last_purchase", "recency_days", "frequency", "monetary", "r", "f", "m", "rfm", "segment"},
			Rows: [][]string{
				{"cust-ann", "2024-06-20", "10", "2", "200", "5", "2", "3", "523", "promising"},
				{"cust-ivy", "2024-05-30", "31", "1", "700", "4", "1", "4", "414", "promising"},
				{"cust-hal", "2024-06-25", "5", "1", "30", "5", "1", "1", "511", "new"},
				{"cust-gus", "2024-04-05", "86", "1", "60", "4", "1", "2", "412", "promising"},
				{"cust-cara", "2024-03-01", "121", "2", "100", "3", "2", "2", "322", "needs_attention"},
				{"cust-bob", "2024-03-20", "102", "1", "200", "3", "1", "3", "313", "needs_attention"},
			},
		}},

		"churn_signals": {{
			// As of 2024-06-30. Friction after the last purchase (weights as in
			// friction_top_customers):
			//   bob  last b3 03-20 11:00; b4..b8 all later: 1 + 2 + 3 + 2 + 3 = 11
			//   gus  last g3 04-05 12:00; g4 (2 + 1) + g8 (3) = 6
			//   cara last c2 03-01 11:00; c5 (1) + c6 (3) = 4; and lapsed:
			//        2 purchases, none for 121 > 90 days
			//   ann  last a5 06-20; her only moment a7 is in April: 0
			//   hal, ivy: no friction, one purchase each: no signal
			Params:  map[string]string{"as_of": AsOf},
			Columns: []string{"customer_id", "purchases", "last_purchase", "days_since_purchase", "friction_since_purchase", "lapsed", "friction_after_purchase"},
			Rows: [][]string{
				{"cust-bob", "1", "2024-03-20", "102", "11", "0", "1"},
				{"cust-gus", "1", "2024-04-05", "86", "6", "0", "1"},
				{"cust-cara", "2", "2024-03-01", "121", "4", "1", "1"},
			},
		}},

		"purchase_then_call": {{
			// Purchases and inbound calls only, in time order:
			//   ann  P a3 03-03, C a7 04-06 (34 days), P a5 06-20      → no
			//   bob  P b3 03-20 11:00, C b4 03-21 09:00 (22 h), C b5   → yes, 1 pair
			//        (b7 is a return, b9 an outbound call: neither takes part)
			//   cara P c1, P c2 03-01 11:00, C c3 03-04 14:00 (3 d 3 h), C c5 → yes, 1
			//   gus  P g3 04-05 12:00 (web), C g4 04-06 10:00 (22 h), C g5    → yes, 1
			//   hal, ivy: no calls                                     → no
			// 6 buyers, 3 called: 100 x 3 / 6 = 50; 3 pairs.
			Columns: []string{"buyers", "buyers_calling_7d", "calling_pct", "purchase_call_pairs"},
			Rows:    [][]string{{"6", "3", "50", "3"}},
		}},

		"cross_channel_paths": {{
			// Channels in time order, repeats in a row collapsed:
			//   hal, ivy  web > store
			//   ann  a1 a2 web, a3 store, a4 web, a7 phone, a5 store, a6 app
			//   bob  b1 web, b2 app, b3 store, b4 phone, b6 web, b5 phone, b7 store, b8 web, b9 phone
			//   cara c1 c2 store, c3 phone, c4 c7 web, c5 phone, c6 app, c8 web
			//   gus  g1 web, g2 store, g3 web, g4 g5 phone, g6 g7 g8 web
			// 6 customers: 100 x 2 / 6 = 33.33, 100 x 1 / 6 = 16.67.
			Columns: []string{"path", "steps", "customers", "share_pct"},
			Rows: [][]string{
				{"web > store", "2", "2", "33.33"},
				{"store > phone > web > phone > app > web", "6", "1", "16.67"},
				{"web > app > store > phone > web > phone > store > web > phone", "9", "1", "16.67"},
				{"web > store > web > phone > store > app", "6", "1", "16.67"},
				{"web > store > web > phone > web", "5", "1", "16.67"},
			},
		}},

		"revenue_by_month": {{
			// Order events of the journey (d1 and e2 are erased; a3 with its
			// newest total, 120):
			//   02 store  c1 40                                    → 1 purchase, 40
			//   03 store  a3 120, b3 250, c2 60 (ann, bob, cara)   → 3, 430;
			//             return b7 -50                            → 1, 50; net 380
			//   04 web    g3 60 (order_completed)                  → 1, 60
			//   05 store  i2 700                                   → 1, 700
			//   06 store  a5 80, h2 30 (ann, hal)                  → 2, 110
			Columns: []string{"month", "channel", "purchases", "buyers", "revenue", "returns", "returned", "net_revenue"},
			Rows: [][]string{
				{"2024-02-01", "store", "1", "1", "40", "0", "0", "40"},
				{"2024-03-01", "store", "3", "3", "430", "1", "50", "380"},
				{"2024-04-01", "web", "1", "1", "60", "0", "0", "60"},
				{"2024-05-01", "store", "1", "1", "700", "0", "0", "700"},
				{"2024-06-01", "store", "2", "2", "110", "0", "0", "110"},
			},
		}},

		"calls_by_hour": {{
			// The 7 inbound calls (b9 is outbound, d3 erased; g4 has no
			// direction, so it is inbound):
			//    9  b4 resolved wait 200, b5 abandoned      → 2, 1, 1, 50, ASA 200
			//   10  g4 hangup (abandoned), g5 wait 100      → 2, 1, 1, 50, ASA 100
			//   14  c3 wait 60, c5 wait 240                 → 2, 2, 0, 0, ASA 150
			//   15  a7 wait 190                             → 1, 1, 0, 0, ASA 190
			// Shares: 100 x 2 / 7 = 28.57, 100 x 1 / 7 = 14.29.
			Columns: []string{"hour", "offered", "answered_calls", "abandoned_calls", "abandonment_pct", "asa_seconds", "share_of_calls_pct"},
			Rows: [][]string{
				{"9", "2", "1", "1", "50", "200", "28.57"},
				{"10", "2", "1", "1", "50", "100", "28.57"},
				{"14", "2", "2", "0", "0", "150", "28.57"},
				{"15", "1", "1", "0", "0", "190", "14.29"},
			},
		}},

		"repeat_callers": {{
			// Inbound calls per live customer: ann 1 (a7), bob 2 (b4, b5; b9
			// is outbound), cara 2 (c3, c5), gus 2 (g4, g5); dan is erased.
			// The fixture's events carry no identifiers, so nobody is
			// anonymous: 4 callers, 3 repeat → 75; 7 calls / 4 = 1.75.
			Columns: []string{"callers", "repeat_callers", "repeat_caller_pct", "calls_per_caller", "anonymous_calls"},
			Rows:    [][]string{{"4", "3", "75", "1.75", "0"}},
		}},

		"customers_by_channel": {{
			// Per channel (journey_phases' events, by channel):
			//   app    b2, a6, c6                                  → 3 events; bob, ann, cara
			//   phone  a7 b4 b5 b9 c3 c5 g4 g5                     → 8; ann, bob, cara, gus
			//   store  a3 a5 b3 b7 c1 c2 g2 h2 i2                  → 9; ann bob cara gus hal ivy
			//   web    a1 a2 a4 b1 b6 b8 c4 c7 c8 g1 g3 g6 g7 g8 h1 i1 → 16; all six
			// No identifiers in the fixture: nobody is anonymous.
			Columns: []string{"channel", "events", "customers", "identified_customers", "anonymous_customers"},
			Rows: [][]string{
				{"app", "3", "3", "3", "0"},
				{"phone", "8", "4", "4", "0"},
				{"store", "9", "6", "6", "0"},
				{"web", "16", "6", "6", "0"},
			},
		}},

		"journey_phases": {{
			// pre_visit (7): app b2; web a1 a2 b1 g1 h1 i1 (ann bob gus hal ivy)
			//   → 100 x 1 / 7 = 14.29, 100 x 6 / 7 = 85.71
			// visit (16): phone a7 b4 b5 c3 c5 g4 g5 (ann bob cara gus);
			//   store a3 a5 b3 c1 c2 g2 h2 i2 (ann bob cara gus hal ivy); web g3
			//   → 100 x 7 / 16 = 43.75, 100 x 8 / 16 = 50, 100 x 1 / 16 = 6.25
			// post_visit (13): app a6 c6; phone b9; store b7;
			//   web a4 b6 b8 c4 c7 c8 g6 g7 g8 (ann bob cara gus)
			//   → 100 x 2 / 13 = 15.38, 100 x 1 / 13 = 7.69, 100 x 9 / 13 = 69.23
			Columns: []string{"phase", "channel", "events", "customers", "share_of_phase_events_pct"},
			Rows: [][]string{
				{"pre_visit", "app", "1", "1", "14.29"},
				{"pre_visit", "web", "6", "5", "85.71"},
				{"visit", "phone", "7", "4", "43.75"},
				{"visit", "store", "8", "6", "50"},
				{"visit", "web", "1", "1", "6.25"},
				{"post_visit", "app", "2", "2", "15.38"},
				{"post_visit", "phone", "1", "1", "7.69"},
				{"post_visit", "store", "1", "1", "7.69"},
				{"post_visit", "web", "9", "4", "69.23"},
			},
		}},
	}
}

func journeyNone(id string) Case {
	return Case{
		Params: map[string]string{"customer_id": id},
		Columns: []string{"event_time", "channel", "phase", "type", "event_id", "resolved_customer_id",
			"store_id", "order_total", "call_outcome", "wait_seconds", "survey_kind", "survey_score"},
		Rows: [][]string{},
	}
}
