package embedded

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
)

// The data file is a header followed by records:
//
//	header: "ARBORDB" 0x01
//	record: u32 LE length of body | u32 LE CRC-32C of body | body
//	body:   type byte | uvarint key length | key | fields
//
// with these fields per type:
//
//	recSet:     uvarint rev | varint expiry (Unix ns, 0 = none) | value (rest of body)
//	recDelete:  none
//	recCounter: varint value | varint expiry (Unix ns, 0 = none)
//
// Every record carries the whole state of its key, so replaying the file in order
// rebuilds the store, and a compacted file is simply one record per live key.
const (
	recSet     byte = 1
	recDelete  byte = 2
	recCounter byte = 3
)

// fileHeader starts every data file; its last byte is the format version.
var fileHeader = []byte("ARBORDB\x01")

const (
	headerLen = 8 // len(fileHeader)
	frameLen  = 8 // length and checksum before each record body
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a data file that cannot be replayed safely.
var errCorrupt = errors.New("corrupt data file")

// entry is a value key's state.
type entry struct {
	value []byte
	rev   uint64
	exp   int64 // Unix nanoseconds; 0 means no expiry
}

// counter is a counter key's state.
type counter struct {
	n   int64
	exp int64 // Unix nanoseconds; 0 means no expiry
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// setSize is the size on disk of the record that stores e under key.
func setSize(key string, e entry) int64 {
	return int64(frameLen + 1 + uvarintLen(uint64(len(key))) + len(key) +
		uvarintLen(e.rev) + varintLen(e.exp) + len(e.value))
}

// counterSize is the size on disk of the record that stores c under key.
func counterSize(key string, c counter) int64 {
	return int64(frameLen + 1 + uvarintLen(uint64(len(key))) + len(key) + varintLen(c.n) + varintLen(c.exp))
}

// beginRecord appends a frame placeholder and the common body prefix to dst. It
// returns the extended slice and the offset of the frame.
func beginRecord(dst []byte, typ byte, key string) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // frame, filled in by endRecord
	dst = append(dst, typ)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return dst, start
}

// endRecord fills in the frame of the record that starts at start.
func endRecord(dst []byte, start int) []byte {
	body := dst[start+frameLen:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// appendSet appends the record storing e under key to dst.
func appendSet(dst []byte, key string, e entry) []byte {
	dst, start := beginRecord(dst, recSet, key)
	dst = binary.AppendUvarint(dst, e.rev)
	dst = binary.AppendVarint(dst, e.exp)
	dst = append(dst, e.value...)
	return endRecord(dst, start)
}

// appendDelete appends the record deleting the value key to dst.
func appendDelete(dst []byte, key string) []byte {
	dst, start := beginRecord(dst, recDelete, key)
	return endRecord(dst, start)
}

// appendCounter appends the record storing c under key to dst.
func appendCounter(dst []byte, key string, c counter) []byte {
	dst, start := beginRecord(dst, recCounter, key)
	dst = binary.AppendVarint(dst, c.n)
	dst = binary.AppendVarint(dst, c.exp)
	return endRecord(dst, start)
}

// replayed is the state rebuilt from a data file.
type replayed struct {
	values   *table
	counters map[string]counter
	// size is the length of the valid prefix of the file, header included.
	size int64
	// torn is how many bytes after size were an incomplete or damaged final record.
	torn int64
}

// replay reads the data file f of the given size and rebuilds the state as of
// nowNano, dropping keys that have expired. A damaged final record (a write cut short
// by a crash) ends the replay and is reported in torn; damage followed by intact
// records is corruption and fails.
func replay(f *os.File, size, nowNano int64) (*replayed, error) {
	st := &replayed{values: newTable(), counters: map[string]counter{}}
	if size < headerLen {
		// A crash while creating the file: nothing was ever stored.
		st.torn = size
		return st, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	var hdr [frameLen]byte
	if _, err := io.ReadFull(r, hdr[:headerLen]); err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if string(hdr[:headerLen]) != string(fileHeader) {
		return nil, fmt.Errorf("%w: bad header %q, not an Arbor data file or an unsupported version", errCorrupt, hdr[:headerLen])
	}
	off := int64(headerLen)
	var buf []byte // record bodies, reused: apply copies what it keeps
	for off < size {
		if size-off < frameLen {
			break // torn frame
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, fmt.Errorf("read record at offset %d: %w", off, err)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n > size-off-frameLen {
			break // body cut short
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		body := buf[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("read record at offset %d: %w", off, err)
		}
		next := off + frameLen + n
		// No record is shorter than 2 bytes; a zero length with a matching checksum is
		// what a zero-filled tail looks like after some file system crashes.
		if n < 2 || crc32.Checksum(body, castagnoli) != sum {
			// A damaged record followed by an intact one is not a torn write but
			// corruption: refuse to drop the data after it. This check is best effort,
			// as the damaged length may point anywhere.
			if validRecordAt(f, next, size) {
				return nil, fmt.Errorf("%w: damaged record at offset %d followed by intact records", errCorrupt, off)
			}
			break // damaged tail
		}
		if err := st.apply(body, nowNano); err != nil {
			return nil, fmt.Errorf("%w: record at offset %d: %w", errCorrupt, off, err)
		}
		off = next
	}
	st.size, st.torn = off, size-off
	return st, nil
}

// validRecordAt reports whether an intact record starts at off.
func validRecordAt(f *os.File, off, size int64) bool {
	var hdr [frameLen]byte
	if size-off < frameLen {
		return false
	}
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return false
	}
	n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
	if n < 2 || n > size-off-frameLen {
		return false
	}
	body := make([]byte, n)
	if _, err := f.ReadAt(body, off+frameLen); err != nil {
		return false
	}
	return crc32.Checksum(body, castagnoli) == binary.LittleEndian.Uint32(hdr[4:8])
}

// apply applies one record body to the state.
func (st *replayed) apply(body []byte, nowNano int64) error {
	if len(body) < 2 {
		return errors.New("short record")
	}
	typ, rest := body[0], body[1:]
	klen, k := binary.Uvarint(rest)
	if k <= 0 || klen > uint64(len(rest)-k) {
		return errors.New("bad key length")
	}
	// The table copies the key it keeps, so a view of the reused buffer does; the
	// counters' map keeps its key and gets a copy.
	key := view(rest[k : k+int(klen)])
	rest = rest[k+int(klen):]
	switch typ {
	case recSet:
		rev, k := binary.Uvarint(rest)
		if k <= 0 {
			return errors.New("bad revision")
		}
		rest = rest[k:]
		exp, k := binary.Varint(rest)
		if k <= 0 {
			return errors.New("bad expiry")
		}
		if expired(exp, nowNano) {
			st.values.del(key)
			return nil
		}
		// The table copies the value into its arena, which lets replay reuse one buffer
		// for every record.
		st.values.put(key, entry{value: rest[k:], rev: rev, exp: exp})
	case recDelete:
		if len(rest) != 0 {
			return errors.New("trailing bytes in delete record")
		}
		st.values.del(key)
	case recCounter:
		n, k := binary.Varint(rest)
		if k <= 0 {
			return errors.New("bad counter value")
		}
		rest = rest[k:]
		exp, k := binary.Varint(rest)
		if k <= 0 || k != len(rest) {
			return errors.New("bad counter expiry")
		}
		if expired(exp, nowNano) {
			delete(st.counters, key)
			return nil
		}
		st.counters[strings.Clone(key)] = counter{n: n, exp: exp}
	default:
		return fmt.Errorf("unknown record type %d", typ)
	}
	return nil
}

// expired reports whether a key with expiry exp has expired at nowNano.
func expired(exp, nowNano int64) bool {
	return exp != 0 && exp <= nowNano
}

// syncDir flushes directory dir, so that a file created or renamed in it survives a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writeSnapshot writes a compacted data file holding values and counters to path,
// flushed to stable storage, and returns it open for appending along with its size.
// Keys expired at nowNano are left out.
func writeSnapshot(path string, values *table, counters map[string]counter, nowNano int64) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("create %s: %w", path, err)
	}
	fail := func(err error) (*os.File, int64, error) {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, 0, err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	size := int64(headerLen)
	if _, err := w.Write(fileHeader); err != nil {
		return fail(fmt.Errorf("write %s: %w", path, err))
	}
	var buf []byte
	for key, e := range values.all() {
		if expired(e.exp, nowNano) {
			continue
		}
		buf = appendSet(buf[:0], key, e)
		if _, err := w.Write(buf); err != nil {
			return fail(fmt.Errorf("write %s: %w", path, err))
		}
		size += int64(len(buf))
	}
	for key, c := range counters {
		if expired(c.exp, nowNano) {
			continue
		}
		buf = appendCounter(buf[:0], key, c)
		if _, err := w.Write(buf); err != nil {
			return fail(fmt.Errorf("write %s: %w", path, err))
		}
		size += int64(len(buf))
	}
	if err := w.Flush(); err != nil {
		return fail(fmt.Errorf("write %s: %w", path, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("sync %s: %w", path, err))
	}
	return f, size, nil
}
