package mover

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/failback/failback/internal/safetext"
)

// maxNoise bounds what the driver skips before the mover's first line.
const maxNoise = 64 << 10

// ErrNotMover: what answered is not a mover (it is missing, or the path
// names another program); the error quotes what it printed.
var ErrNotMover = errors.New("no failback mover answered")

// ErrProtocol: the peer broke the protocol (a frame too large or not
// JSON, a call that does not exist), or speaks another version.
var ErrProtocol = errors.New("mover protocol error")

// writer writes frames, one at a time.
type writer struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *writer) send(f frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("%w: encode a %s frame: %v", ErrProtocol, f.Kind, err)
	}
	if len(b) > MaxFrame {
		return fmt.Errorf("%w: a %s frame of %d bytes is over the limit of %d", ErrProtocol, f.Kind, len(b), MaxFrame)
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(buf)
	return err
}

// sendBody sends a frame with v as its body.
func (w *writer) sendBody(f frame, v any) error {
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%w: encode a %s body: %v", ErrProtocol, f.Kind, err)
		}
		f.Body = b
	}
	return w.send(f)
}

// reader reads frames.
type reader struct{ r *bufio.Reader }

func newReader(r io.Reader) *reader { return &reader{r: bufio.NewReaderSize(r, 64<<10)} }

func (r *reader) next() (frame, error) {
	var n [4]byte
	if _, err := io.ReadFull(r.r, n[:]); err != nil {
		return frame{}, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxFrame {
		return frame{}, fmt.Errorf("%w: a frame of %d bytes announced, over the limit of %d", ErrProtocol, size, MaxFrame)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return frame{}, fmt.Errorf("%w: a frame that is not JSON: %v", ErrProtocol, err)
	}
	return f, nil
}

// writeMagic starts the mover's output.
func writeMagic(w io.Writer) error {
	_, err := io.WriteString(w, magic+strconv.Itoa(ProtocolVersion)+"\n")
	return err
}

// readMagic skips what comes before the mover's first line and returns
// the protocol version it announces. When the line never comes, the
// error quotes what came instead (a shell saying the command is not
// found).
func (r *reader) readMagic() (int, error) {
	var noise bytes.Buffer
	for noise.Len() <= maxNoise {
		line, err := r.r.ReadString('\n')
		if i := strings.Index(line, magic); i >= 0 && err == nil {
			noise.WriteString(line[:i])
			v, perr := strconv.Atoi(strings.TrimSpace(line[i+len(magic):]))
			if perr != nil {
				return 0, fmt.Errorf("%w: it announced %q", ErrProtocol, safetext.Clean(strings.TrimSpace(line)))
			}
			return v, nil
		}
		noise.WriteString(line)
		if err != nil {
			said := strings.TrimSpace(noise.String())
			if said == "" {
				return 0, fmt.Errorf("%w: it printed nothing and ended (%v)", ErrNotMover, err)
			}
			return 0, fmt.Errorf("%w: it printed %q", ErrNotMover, quote(said))
		}
	}
	return 0, fmt.Errorf("%w: it printed more than %d bytes without the mover's greeting, starting %q", ErrNotMover, maxNoise, quote(noise.String()))
}

// quote shortens what a peer printed to one safe line.
func quote(s string) string {
	s = safetext.Clean(strings.Join(strings.Fields(s), " "))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
