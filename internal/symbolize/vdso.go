package symbolize

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// The vDSO is not a file: the kernel maps the same image into every 64-bit
// process, so it is read once, from this process's own memory, and serves
// every [vdso] mapping of the same size. Programs that read the clock often
// spend much of their time in it.
type vdsoImage struct {
	bin  *binaryFile
	size uint64
	err  error
}

const vdsoPath = "[vdso]"

// vdso returns the parsed vDSO for a [vdso] mapping of size bytes.
func (s *Symbolizer) vdso(size uint64) (*binaryFile, error) {
	s.vdsoOnce.Do(func() { s.vdsoImage = readVDSO() })
	v := s.vdsoImage
	if v.err != nil {
		return nil, v.err
	}
	if v.size != size {
		return nil, fmt.Errorf("symbolize: a [vdso] of %d bytes, ours has %d: %w", size, v.size, errMismatch)
	}
	return v.bin, nil
}

func readVDSO() vdsoImage {
	maps, err := ReadMaps(os.Getpid())
	if err != nil {
		return vdsoImage{err: err}
	}
	for _, m := range maps {
		if m.Path != vdsoPath {
			continue
		}
		mem, err := os.Open("/proc/self/mem")
		if err != nil {
			return vdsoImage{err: err}
		}
		defer mem.Close()
		buf := make([]byte, m.Limit-m.Start)
		if _, err := mem.ReadAt(buf, int64(m.Start)); err != nil {
			return vdsoImage{err: fmt.Errorf("symbolize: reading our [vdso]: %w", err)}
		}
		b, err := openBinary(bytes.NewReader(buf), int64(len(buf)), nil)
		if err != nil {
			return vdsoImage{err: fmt.Errorf("symbolize: parsing our [vdso]: %w", err)}
		}
		return vdsoImage{bin: b, size: uint64(len(buf))}
	}
	return vdsoImage{err: errors.New("symbolize: this process has no [vdso]")}
}
