package pull

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/google/pprof/profile"
)

// maxProfile bounds a pulled profile once decompressed. net/http/pprof
// gzips what it serves, and gzip inflates zeros about a thousandfold: the
// 64 MiB bound on the body alone would let a hostile or broken endpoint make
// the puller hold gigabytes. Real profiles are far smaller: a 32k-stack heap
// profile is about 4 MiB uncompressed.
const maxProfile = 128 << 20

// inflate writes the gzip stream gz, decompressed, to w, stopping past
// maxProfile bytes, and returns how many it wrote.
func inflate(gz []byte, w io.Writer) (int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return 0, err
	}
	return io.Copy(w, io.LimitReader(zr, maxProfile+1))
}

// parse decompresses (within maxProfile) and parses a profile read from
// the endpoint url.
func parse(url string, body []byte) (*profile.Profile, error) {
	if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
		// Count first, keep second: a stream over the limit is refused
		// having held nothing but the decompressor's window, and one
		// within it is read into a buffer of its exact size.
		n, err := inflate(body, io.Discard)
		if err != nil {
			return nil, fmt.Errorf("GET %s: decompressing the profile: %w", url, err)
		}
		if n > maxProfile {
			return nil, fmt.Errorf("GET %s: refused a profile larger than %d MiB once decompressed (%d KiB gzipped)", url, maxProfile>>20, len(body)>>10)
		}
		raw := bytes.NewBuffer(make([]byte, 0, n))
		if _, err := inflate(body, raw); err != nil {
			return nil, fmt.Errorf("GET %s: decompressing the profile: %w", url, err)
		}
		body = raw.Bytes()
	}
	p, err := profile.ParseData(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: not a pprof profile: %w", url, err)
	}
	return p, nil
}
