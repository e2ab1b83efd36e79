package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// statsPeriods are the periods, in days, the statistics offer; a fixed set
// keeps the charts readable and the queries bounded.
var statsPeriods = []int{7, 30, 90, 365}

const defaultStatsDays = 30

// statsQuery is what the period selector asks for.
type statsQuery struct {
	Days int
	// Workshop narrows the per-day counts to one workshop ("" for all).
	Workshop string
	// Since is the start of the first UTC day of the period.
	Since time.Time
}

// parseStatsQuery reads ?days= and ?workshop=; a period outside the
// offered ones falls back to the default rather than failing a bookmark.
func (p *Pages) parseStatsQuery(r *http.Request) statsQuery {
	q := statsQuery{Days: defaultStatsDays, Workshop: strings.TrimSpace(r.URL.Query().Get("workshop"))}
	if d, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && slices.Contains(statsPeriods, d) {
		q.Days = d
	}
	today := p.Clock.Now().UTC().Truncate(24 * time.Hour)
	q.Since = today.AddDate(0, 0, 1-q.Days)
	return q
}

// values are the query's parameters, for links that keep the selection.
func (q statsQuery) values() url.Values {
	v := url.Values{"days": {strconv.Itoa(q.Days)}}
	if q.Workshop != "" {
		v.Set("workshop", q.Workshop)
	}
	return v
}

type statsData struct {
	statsQuery
	Periods   []int
	Workshops []workshopStatsRow
	// Total sums every workshop.
	Total workshopStatsRow
	// Title is the selected workshop's, for the per-day heading.
	Title    string
	Daily    []wod.DayCount
	DailySum int
	Chart    chart
	// CSV and DailyCSV are the export links for the current selection.
	CSV, DailyCSV string
}

type workshopStatsRow struct {
	wod.WorkshopStats
	// Average is the average completion, written out ("—" when none).
	Average   string
	Histogram chart
}

// chart is a bar chart drawn as SVG on the server, so that it needs no
// script and no inline style; coordinates are in viewBox units.
type chart struct {
	Label         string
	Width, Height int
	Bars          []chartBar
	Labels        []chartLabel
	// Left and Base place the axis line.
	Left, Base string
}

type chartBar struct {
	X, Y, W, H string
	Title      string
}

type chartLabel struct {
	X, Y, Anchor, Text string
}

func (p *Pages) stats(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	q := p.parseStatsQuery(r)
	ws, err := p.Stats.WorkshopStats(r.Context(), q.Since)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := statsData{statsQuery: q, Periods: statsPeriods, Total: workshopStatsRow{WorkshopStats: wod.WorkshopStats{Title: "All workshops"}}}
	if i := slices.IndexFunc(ws, func(s wod.WorkshopStats) bool { return s.Slug == q.Workshop }); i >= 0 {
		d.Title = ws[i].Title
	} else {
		d.Workshop = ""
	}
	var sum, measured float64
	for _, s := range ws {
		d.Workshops = append(d.Workshops, newWorkshopStatsRow(s))
		t := &d.Total.WorkshopStats
		t.Registrations += s.Registrations
		t.Finished += s.Finished
		t.Failed += s.Failed
		n := 0
		for i, c := range s.Completion {
			t.Completion[i] += c
			n += c
		}
		// The histogram counts exactly the measured registrations the
		// average is over, so the overall average can be rebuilt from both.
		if s.AverageCompletion != nil {
			sum += *s.AverageCompletion * float64(n)
			measured += float64(n)
		}
	}
	if measured > 0 {
		avg := sum / measured
		d.Total.AverageCompletion = &avg
	}
	d.Total = newWorkshopStatsRow(d.Total.WorkshopStats)

	d.Daily, err = p.Stats.RegistrationsPerDay(r.Context(), q.Since, optional(d.Workshop))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	for _, c := range d.Daily {
		d.DailySum += c.Registrations
	}
	d.Chart = dailyChart(d.Daily, d.Title)
	d.CSV = "/admin/stats.csv?" + url.Values{"days": {strconv.Itoa(q.Days)}}.Encode()
	daily := d.statsQuery.values()
	daily.Set("kind", "daily")
	d.DailyCSV = "/admin/stats.csv?" + daily.Encode()
	p.render(w, r, http.StatusOK, "admin/stats.html", p.adminView(w, r, a, "stats", "Statistics", d))
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newWorkshopStatsRow(s wod.WorkshopStats) workshopStatsRow {
	row := workshopStatsRow{WorkshopStats: s, Average: "—"}
	if s.AverageCompletion != nil {
		row.Average = strconv.FormatFloat(*s.AverageCompletion, 'f', 1, 64) + " %"
	}
	row.Histogram = histogramChart(s)
	return row
}

// bucketLabel names a completion bucket; the last one holds 100.
func bucketLabel(i int) string {
	if i == 9 {
		return "90–100 %"
	}
	return fmt.Sprintf("%d–%d %%", 10*i, 10*i+9)
}

func histogramChart(s wod.WorkshopStats) chart {
	const width, height, top, bottom = 200, 64, 4, 14
	c := chart{Width: width, Height: height, Left: "0", Base: svgNumber(height - bottom)}
	counts := make([]int, len(s.Completion))
	copy(counts, s.Completion[:])
	c.Bars = bars(counts, 0, width, top, height-bottom, func(i, n int) string {
		return fmt.Sprintf("%s: %s", bucketLabel(i), plural(n, "registration"))
	})
	var parts []string
	for i, n := range counts {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", bucketLabel(i), n))
		}
	}
	c.Label = "Completion of " + s.Title + ": "
	if len(parts) == 0 {
		c.Label += "no measured registrations"
	} else {
		c.Label += strings.Join(parts, ", ")
	}
	y := svgNumber(height - 2)
	c.Labels = []chartLabel{{X: "0", Y: y, Anchor: "start", Text: "0 %"}, {X: svgNumber(width / 2), Y: y, Anchor: "middle", Text: "50 %"},
		{X: svgNumber(width), Y: y, Anchor: "end", Text: "100 %"}}
	return c
}

func dailyChart(days []wod.DayCount, title string) chart {
	const width, height, left, top, bottom = 720, 200, 36, 8, 20
	c := chart{Width: width, Height: height, Left: svgNumber(left), Base: svgNumber(height - bottom)}
	counts := make([]int, len(days))
	peak, sum := 0, 0
	for i, d := range days {
		counts[i] = d.Registrations
		peak = max(peak, d.Registrations)
		sum += d.Registrations
	}
	c.Bars = bars(counts, left, width, top, height-bottom, func(i, n int) string {
		return days[i].Day.Format("Mon 2 Jan 2006") + ": " + plural(n, "registration")
	})
	if title == "" {
		title = "all workshops"
	}
	c.Label = fmt.Sprintf("Registrations per day for %s: %s in %s, at most %d a day", title,
		plural(sum, "registration"), plural(len(days), "day"), peak)
	if len(days) > 0 {
		y := svgNumber(height - 4)
		c.Labels = append(c.Labels,
			chartLabel{X: svgNumber(left), Y: y, Anchor: "start", Text: days[0].Day.Format("2 Jan")},
			chartLabel{X: svgNumber(width), Y: y, Anchor: "end", Text: days[len(days)-1].Day.Format("2 Jan")})
	}
	c.Labels = append(c.Labels,
		chartLabel{X: svgNumber(left - 4), Y: svgNumber(top + 10), Anchor: "end", Text: strconv.Itoa(peak)},
		chartLabel{X: svgNumber(left - 4), Y: svgNumber(height - bottom), Anchor: "end", Text: "0"})
	return c
}

// bars lays counts out as bars between x0 and x1, growing up from base to
// at most top, the tallest one reaching it.
func bars(counts []int, x0, x1, top, base float64, title func(i, n int) string) []chartBar {
	if len(counts) == 0 {
		return nil
	}
	peak := max(slices.Max(counts), 1)
	slot := (x1 - x0) / float64(len(counts))
	gap := min(slot*0.2, 4)
	out := make([]chartBar, len(counts))
	for i, n := range counts {
		h := (base - top) * float64(n) / float64(peak)
		out[i] = chartBar{X: svgNumber(x0 + float64(i)*slot + gap/2), Y: svgNumber(base - h), W: svgNumber(slot - gap),
			H: svgNumber(h), Title: title(i, n)}
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// statsCSV exports the per-workshop table, or with ?kind=daily the
// registrations per day, for the selected period.
func (p *Pages) statsCSV(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	q := p.parseStatsQuery(r)
	var buf bytes.Buffer
	out := csv.NewWriter(&buf)
	var name string
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "workshops":
		ws, err := p.Stats.WorkshopStats(r.Context(), q.Since)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		header := []string{"slug", "title", "registrations", "finished", "failed", "average_completion"}
		for i := range 10 {
			hi := 10*i + 9
			if i == 9 {
				hi = 100
			}
			header = append(header, fmt.Sprintf("completion_%d_%d", 10*i, hi))
		}
		out.Write(header)
		for _, s := range ws {
			avg := ""
			if s.AverageCompletion != nil {
				avg = strconv.FormatFloat(*s.AverageCompletion, 'f', 1, 64)
			}
			row := []string{safeCell(s.Slug), safeCell(s.Title), strconv.Itoa(s.Registrations), strconv.Itoa(s.Finished),
				strconv.Itoa(s.Failed), avg}
			for _, c := range s.Completion {
				row = append(row, strconv.Itoa(c))
			}
			out.Write(row)
		}
		name = fmt.Sprintf("wod-workshops-%dd-%s.csv", q.Days, p.Clock.Now().UTC().Format(time.DateOnly))
	case "daily":
		days, err := p.Stats.RegistrationsPerDay(r.Context(), q.Since, optional(q.Workshop))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		out.Write([]string{"day", "registrations"})
		for _, d := range days {
			out.Write([]string{d.Day.Format(time.DateOnly), strconv.Itoa(d.Registrations)})
		}
		scope := "all"
		if q.Workshop != "" {
			scope = fileSafe(q.Workshop)
		}
		name = fmt.Sprintf("wod-daily-%s-%dd-%s.csv", scope, q.Days, p.Clock.Now().UTC().Format(time.DateOnly))
	default:
		http.Error(w, fmt.Sprintf("unknown kind %q: leave it out for the per-workshop table, or ask for daily", kind),
			http.StatusBadRequest)
		return
	}
	out.Flush()
	if err := out.Error(); err != nil {
		p.fail(w, r, fmt.Errorf("write statistics CSV: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(buf.Bytes())
}

// safeCell keeps a spreadsheet from reading a text cell as a formula.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// fileSafe keeps a download's file name to harmless characters.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
