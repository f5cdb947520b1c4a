package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// plot draws the idle-rich SDK CPU (as a share of one core) against the
// number of distinct stacks, ours vs peer, as an SVG: medians joined by
// lines, min-max as whiskers.
func plot(res *results) string {
	var idle []scenario
	for _, s := range res.plan.scenarios {
		if s.name == "idle" {
			idle = append(idle, s)
		}
	}
	slices.SortFunc(idle, func(a, b scenario) int { return a.stacks - b.stacks })

	const (
		width, height          = 640, 400
		left, right, top, bott = 70, 20, 40, 60
		plotW, plotH           = width - left - right, height - top - bott
	)
	colors := map[string]string{"ours": "#1f77b4", "peer": "#d62728"}
	share := func(v string, s scenario) series {
		return res.series(s.key(), v, func(r, n *record) float64 { return sdkCPU(r, n) / s.idle.Seconds() * 100 })
	}
	top_ := 0.0
	for _, s := range idle {
		for _, v := range res.sdks() {
			top_ = math.Max(top_, share(v, s).Max())
		}
	}
	step := niceStep(top_ / 5)
	yMax := math.Max(step, math.Ceil(top_/step)*step)
	x := func(i int) float64 {
		if len(idle) == 1 {
			return left + plotW/2
		}
		return left + float64(i)*plotW/float64(len(idle)-1)*0.9 + plotW*0.05
	}
	y := func(val float64) float64 { return top + plotH - math.Max(val, 0)/yMax*plotH }

	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="%d" y="22" font-size="14" font-weight="bold">Profiler CPU on an idle program, UploadRate %s, all profile types</text>`+"\n", left, uploadRateOf(idle))
	for t := 0.0; t <= yMax+step/2; t += step {
		w(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y(t), y(t))
		w(`<text x="%d" y="%.1f" text-anchor="end">%s%%</text>`+"\n", left-6, y(t)+4, trimFloat(t))
	}
	w(`<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">SDK CPU, %% of one core</text>`+"\n", top+plotH/2)
	for i, s := range idle {
		w(`<text x="%.1f" y="%d" text-anchor="middle">2^%d</text>`+"\n", x(i), top+plotH+20, int(math.Round(math.Log2(float64(s.stacks)))))
	}
	w(`<text x="%d" y="%d" text-anchor="middle">distinct stacks (heap, mutex, block)</text>`+"\n", left+plotW/2, height-14)
	w(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>`+"\n", left, width-right, top+plotH, top+plotH)
	w(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>`+"\n", left, left, top, top+plotH)
	for li, v := range res.sdks() {
		var pts []string
		for i, s := range idle {
			sr := share(v, s)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(sr.Median())))
			w(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x(i), x(i), y(sr.Min()), y(sr.Max()), colors[v])
			w(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s, %d stacks: %.2f%% median</title></circle>`+"\n", x(i), y(sr.Median()), colors[v], v, s.stacks, sr.Median())
			w(`<text x="%.1f" y="%.1f" fill="%s" text-anchor="end">%.1f%%</text>`+"\n", x(i)-8, y(sr.Median())+4, colors[v], sr.Median())
		}
		w(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), colors[v])
		w(`<rect x="%d" y="%d" width="14" height="4" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", left+12, top+8+li*18, colors[v], left+32, top+13+li*18, legend(v))
	}
	w("</svg>\n")
	return b.String()
}

func legend(v string) string {
	if v == "ours" {
		return "ours (github.com/pyroscope-sdk/pyroscope-go)"
	}
	return "peer (github.com/grafana/pyroscope-go)"
}

func uploadRateOf(idle []scenario) string {
	if len(idle) == 0 {
		return "?"
	}
	return idle[0].uploadRate.String()
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(x float64) string {
	s := fmt.Sprintf("%.2f", x)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
