//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package collect

import "github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"

// The sample types the collectors of the runtime-record path write: those of
// their pprof headers.

func (h *Heap) sampleTypeNames() []string       { return headerTypeNames(h.parts[0].header) }
func (h *Heap) liveTypeNames() []string         { return headerTypeNames(h.parts[len(h.parts)-1].header) }
func (h *Heap) separate() bool                  { return len(h.parts) > 1 }
func (g *Goroutines) sampleTypeNames() []string { return headerTypeNames(g.header) }
func (c *Contention) sampleTypeNames() []string { return headerTypeNames(c.header) }

func headerTypeNames(h pprofenc.Header) []string {
	names := make([]string, len(h.SampleTypes))
	for i, vt := range h.SampleTypes {
		names[i] = vt.Type
	}
	return names
}
