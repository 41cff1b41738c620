package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Scan id blobs. A reconcile scan stores each page's ids as one compact blob:
// decimal ids (VOMO's) as sorted varint deltas, anything else front-coded
// (shared prefix length + suffix) after sorting. Order is not kept: a scan's
// ids are a set, sorted again by the merge.
const (
	blobNumeric = 1
	blobStrings = 2
)

// EncodeIDs packs ids into a blob.
func EncodeIDs(ids []string) []byte {
	if nums, ok := numericIDs(ids); ok {
		slices.Sort(nums)
		b := []byte{blobNumeric}
		b = binary.AppendUvarint(b, uint64(len(nums)))
		var prev uint64
		for _, n := range nums {
			b = binary.AppendUvarint(b, n-prev)
			prev = n
		}
		return b
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	b := []byte{blobStrings}
	b = binary.AppendUvarint(b, uint64(len(sorted)))
	prev := ""
	for _, s := range sorted {
		p := 0
		for p < len(prev) && p < len(s) && prev[p] == s[p] {
			p++
		}
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(len(s)-p))
		b = append(b, s[p:]...)
		prev = s
	}
	return b
}

var errBlob = errors.New("corrupt scan id blob")

// DecodeIDs unpacks a blob made by EncodeIDs.
func DecodeIDs(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, errBlob
	}
	kind, b := b[0], b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBlob
	}
	b = b[k:]
	ids := make([]string, 0, n)
	switch kind {
	case blobNumeric:
		var cur uint64
		for range n {
			d, k := binary.Uvarint(b)
			if k <= 0 {
				return nil, errBlob
			}
			b = b[k:]
			cur += d
			ids = append(ids, strconv.FormatUint(cur, 10))
		}
	case blobStrings:
		prev := ""
		for range n {
			p, k := binary.Uvarint(b)
			if k <= 0 || p > uint64(len(prev)) {
				return nil, errBlob
			}
			b = b[k:]
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil, errBlob
			}
			b = b[k:]
			s := prev[:p] + string(b[:l])
			b = b[l:]
			ids = append(ids, s)
			prev = s
		}
	default:
		return nil, fmt.Errorf("%w: kind %d", errBlob, kind)
	}
	if len(b) != 0 {
		return nil, errBlob
	}
	return ids, nil
}

// numericIDs parses ids that are canonical decimal numbers (no sign, no
// leading zero), the only ones whose text survives a round trip as numbers.
func numericIDs(ids []string) ([]uint64, bool) {
	out := make([]uint64, 0, len(ids))
	for _, s := range ids {
		if s == "" || (len(s) > 1 && s[0] == '0') {
			return nil, false
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}
