package upload

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofwire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
)

func labelledProfile(t *testing.T, labels ...map[string][]string) []byte {
	t.Helper()
	fn := &profile.Function{ID: 1, Name: "main.work", SystemName: "main.work", Filename: "main.go"}
	loc := &profile.Location{ID: 1, Address: 0x1000, Line: []profile.Line{{Function: fn, Line: 10}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10000000,
		Function:   []*profile.Function{fn},
		Location:   []*profile.Location{loc},
	}
	for i, l := range labels {
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{loc}, Value: []int64{int64(i + 1), int64(i+1) * 1e7}, Label: l})
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil { // gzipped, as runtime/pprof writes
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dd-trace-go's code-hotspots labels reach the server with keys it stores;
// otel-profiling-go's span_id arrives as it is, and so does everything else.
func TestStorableLabelKeys(t *testing.T) {
	in := labelledProfile(t,
		map[string][]string{"span id": {"1234"}, "local root span id": {"99"}, "trace endpoint": {"GET /cart"}},
		map[string][]string{"span_id": {"abcd"}, "endpoint": {"/search"}},
	)
	out := storableLabelKeys(in)
	if !isGzip(out) {
		t.Error("a gzipped profile came back uncompressed")
	}
	p, err := profile.ParseData(out)
	if err != nil {
		t.Fatalf("rewritten profile does not parse: %v", err)
	}
	want := []map[string][]string{
		{"span_id": {"1234"}, "local_root_span_id": {"99"}, "trace_endpoint": {"GET /cart"}},
		{"span_id": {"abcd"}, "endpoint": {"/search"}},
	}
	if len(p.Sample) != 2 {
		t.Fatalf("%d samples, want 2", len(p.Sample))
	}
	for i, s := range p.Sample {
		if !maps.EqualFunc(s.Label, want[i], slices.Equal) {
			t.Errorf("sample %d labels %v, want %v", i, s.Label, want[i])
		}
		if s.Value[1] != int64(i+1)*1e7 || s.Location[0].Line[0].Function.Name != "main.work" {
			t.Errorf("sample %d changed beyond its labels: %v %v", i, s.Value, s.Location[0].Line)
		}
	}
}

// A profile whose keys servers store is returned as it is, not re-encoded.
func TestStorableLabelKeysLeavesGoodProfilesAlone(t *testing.T) {
	for _, in := range [][]byte{
		labelledProfile(t, map[string][]string{"span_id": {"abcd"}, "endpoint": {"/search"}}),
		labelledProfile(t),
		[]byte("not a profile"),
	} {
		if out := storableLabelKeys(in); &out[0] != &in[0] || len(out) != len(in) {
			t.Errorf("profile of %d bytes was rewritten", len(in))
		}
	}
}

// A translated key never takes the name of a key the sample already
// carries: the key stored as it is keeps its name and value, the
// translation gets the first free name_2, name_3, ..., in byte order of the
// original keys; samples without a clash get the plain translation.
func TestStorableLabelKeysNeverMergeKeys(t *testing.T) {
	type labels = map[string][]string
	for _, tc := range []struct {
		name     string
		in, want []labels
	}{
		{"dd-trace-go and otel-profiling-go on one sample",
			[]labels{{"span id": {"1234"}, "span_id": {"abcd"}}, {"span id": {"77"}}},
			[]labels{{"span_id": {"abcd"}, "span_id_2": {"1234"}}, {"span_id": {"77"}}}},
		{"two keys with one translation",
			[]labels{{"span-id": {"b"}, "span id": {"a"}}},
			[]labels{{"span_id": {"a"}, "span_id_2": {"b"}}}},
		{"the first suffix taken too",
			[]labels{{"span id": {"a"}, "span_id": {"b"}, "span_id_2": {"c"}}},
			[]labels{{"span_id": {"b"}, "span_id_2": {"c"}, "span_id_3": {"a"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := profile.ParseData(storableLabelKeys(labelledProfile(t, tc.in...)))
			if err != nil {
				t.Fatalf("rewritten profile does not parse: %v", err)
			}
			if len(p.Sample) != len(tc.want) {
				t.Fatalf("%d samples, want %d", len(p.Sample), len(tc.want))
			}
			for i, s := range p.Sample {
				if !maps.EqualFunc(s.Label, tc.want[i], slices.Equal) {
					t.Errorf("sample %d labels %v, want %v", i, s.Label, tc.want[i])
				}
			}
		})
	}
}

// A translated key reuses the string table's entry when it has one: a
// second "span_id" string makes Grafana Pyroscope pick one of the two as
// its span label and take the other for a series label, and the span's
// profile then comes back empty (e2e TestForeignLabels).
func TestStorableLabelKeysReuseStrings(t *testing.T) {
	out := storableLabelKeys(labelledProfile(t,
		map[string][]string{"span id": {"1234"}},
		map[string][]string{"span_id": {"00f067aa0ba902b7"}},
	))
	raw, err := gunzipped(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	walkFields(raw, func(field, wire int, _ uint64, b []byte) {
		if field == pprofwire.ProfileStringTable && wire == protowire.Bytes {
			seen[string(b)]++
		}
	})
	for s, n := range seen {
		if n > 1 {
			t.Errorf("string table holds %q %d times", s, n)
		}
	}
	if seen["span_id"] != 1 {
		t.Errorf("string table holds span_id %d times, want once", seen["span_id"])
	}
}
