package local

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// Queue entries (stream and retry buckets) are stored in a length-prefixed
// binary layout: every claim decodes and every commit encodes each entry,
// and JSON cost more there than the rest of the store's work (the payload,
// itself JSON, went through base64). Format 1 files hold JSON entries;
// decodeEntry reads both, which is what lets open upgrade such a file.
//
// Layout: entryTag, then Version as varint Unix seconds and uvarint
// nanoseconds, varints ConfigGeneration, Seq and Attempts, then Pipeline,
// Key, Op, ContentHash, Trace, LastError and Payload, each a uvarint
// length and its bytes. The ID is the bucket key and is not stored.
const entryTag byte = 1

// encodeEntry returns e in the binary layout.
func encodeEntry(e state.Entry) []byte {
	strs := [...]string{e.Pipeline, e.Key, e.Op, e.ContentHash, e.Trace, e.LastError}
	n := 1 + 4*binary.MaxVarintLen64 + (len(strs)+1)*binary.MaxVarintLen64 + len(e.Payload)
	for _, s := range strs {
		n += len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, entryTag)
	b = binary.AppendVarint(b, e.Version.Unix())
	b = binary.AppendUvarint(b, uint64(e.Version.Nanosecond()))
	b = binary.AppendVarint(b, e.ConfigGeneration)
	b = binary.AppendVarint(b, e.Seq)
	b = binary.AppendVarint(b, int64(e.Attempts))
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	return append(b, e.Payload...)
}

// decodeEntry decodes a stored entry, binary or (format 1) JSON, whose
// bucket key is k. The result shares no memory with v, which bbolt only
// lends for the transaction.
func decodeEntry(k, v []byte) (state.Entry, error) {
	var e state.Entry
	switch {
	case len(v) > 0 && v[0] == entryTag:
		d := entryDecoder{b: v[1:]}
		sec, nsec := d.varint(), d.uvarint()
		e.ConfigGeneration, e.Seq, e.Attempts = d.varint(), d.varint(), int(d.varint())
		for _, s := range [...]*string{&e.Pipeline, &e.Key, &e.Op, &e.ContentHash, &e.Trace, &e.LastError} {
			*s = string(d.bytes())
		}
		if p := d.bytes(); len(p) > 0 {
			e.Payload = append([]byte(nil), p...)
		}
		if d.err == nil && len(d.b) > 0 {
			d.err = fmt.Errorf("%d bytes after the payload", len(d.b))
		}
		if d.err == nil && nsec >= uint64(time.Second) {
			d.err = fmt.Errorf("version nanoseconds %d out of range", nsec)
		}
		if d.err != nil {
			return state.Entry{}, fmt.Errorf("queue entry %s: %w", idString(k), d.err)
		}
		e.Version = time.Unix(sec, int64(nsec)).UTC()
	case len(v) > 0 && v[0] == '{':
		if err := json.Unmarshal(v, &e); err != nil {
			return state.Entry{}, fmt.Errorf("queue entry %s: %w", idString(k), err)
		}
	default:
		return state.Entry{}, fmt.Errorf("queue entry %s: unknown encoding", idString(k))
	}
	e.ID = idString(k)
	return e, nil
}

var errShortEntry = errors.New("truncated")

// entryDecoder reads the binary layout; the first error sticks and every
// later read returns zero.
type entryDecoder struct {
	b   []byte
	err error
}

func (d *entryDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortEntry
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *entryDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortEntry
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *entryDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShortEntry
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}
