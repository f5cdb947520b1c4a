//go:build !go1.25 || go1.28 || pyroscope_publicapi

package collect

// The sample types the collectors of the public-API path write: those they
// keep of runtime/pprof's profiles, in runtime/pprof's order.

func (h *Heap) sampleTypeNames() []string       { return h.parts[0] }
func (h *Heap) liveTypeNames() []string         { return h.parts[len(h.parts)-1] }
func (h *Heap) separate() bool                  { return len(h.parts) > 1 }
func (g *Goroutines) sampleTypeNames() []string { return []string{"goroutine"} }
func (c *Contention) sampleTypeNames() []string { return c.c.keep }
