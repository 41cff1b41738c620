package runtime

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Scan ids are merged against the destination's keys in byte-wise order.
// The store keeps them per page, in no order, so the merging worker sorts
// them on local disk: sorted runs of sortChunk ids each, then a k-way
// merge. Memory holds one run being filled and one buffered reader per
// run, whatever the tenant's size; a worker that dies mid-merge loses
// only the temporary files.

// sortChunk is how many ids a sorted run holds.
var sortChunk = 100_000

// idSorter collects ids and hands them back sorted and de-duplicated.
type idSorter struct {
	dir  string
	buf  []string
	runs []string
	n    int64
}

func newIDSorter() (*idSorter, error) {
	dir, err := os.MkdirTemp(tempDir(), "siphon-reconcile-")
	if err != nil {
		return nil, fmt.Errorf("reconcile: temporary directory: %w", err)
	}
	return &idSorter{dir: dir}, nil
}

// add takes ids in any order.
func (s *idSorter) add(ids []string) error {
	for _, id := range ids {
		s.buf = append(s.buf, id)
		s.n++
		if len(s.buf) >= sortChunk {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the buffered ids as one sorted run.
func (s *idSorter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	slices.Sort(s.buf)
	s.buf = slices.Compact(s.buf)
	f, err := os.CreateTemp(s.dir, "run-")
	if err != nil {
		return fmt.Errorf("reconcile: sort run: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	for _, id := range s.buf {
		if err := writeString(w, id); err != nil {
			f.Close()
			return fmt.Errorf("reconcile: sort run: %w", err)
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return fmt.Errorf("reconcile: sort run: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	s.buf = s.buf[:0]
	return nil
}

// sorted returns an iterator over every id added, ascending, each once.
// It may be called again for another pass.
func (s *idSorter) sorted() (*idIter, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	it := &idIter{}
	for _, name := range s.runs {
		f, err := os.Open(name)
		if err != nil {
			it.close()
			return nil, fmt.Errorf("reconcile: sorted ids: %w", err)
		}
		rd := &runReader{f: f, r: bufio.NewReaderSize(f, 64<<10)}
		ok, err := rd.next()
		if err != nil {
			f.Close()
			it.close()
			return nil, err
		}
		it.all = append(it.all, rd)
		if ok {
			it.h = append(it.h, rd)
		}
	}
	heap.Init(&it.h)
	return it, nil
}

// close removes the temporary files.
func (s *idSorter) close() {
	if s != nil {
		_ = os.RemoveAll(s.dir)
	}
}

// runReader reads one sorted run.
type runReader struct {
	f   *os.File
	r   *bufio.Reader
	cur string
}

func (rd *runReader) next() (bool, error) {
	s, err := readString(rd.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reconcile: read sorted ids: %w", err)
	}
	rd.cur = s
	return true, nil
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return h[i].cur < h[j].cur }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// idIter merges the runs.
type idIter struct {
	h    runHeap
	all  []*runReader
	last string
	any  bool
}

// next returns the next id, ok false at the end.
func (it *idIter) next() (string, bool, error) {
	for it.h.Len() > 0 {
		rd := it.h[0]
		id := rd.cur
		ok, err := rd.next()
		if err != nil {
			return "", false, err
		}
		if ok {
			heap.Fix(&it.h, 0)
		} else {
			heap.Pop(&it.h)
		}
		if it.any && id == it.last {
			continue
		}
		it.last, it.any = id, true
		return id, true, nil
	}
	return "", false, nil
}

func (it *idIter) close() {
	for _, rd := range it.all {
		rd.f.Close()
	}
}

func writeString(w *bufio.Writer, s string) error {
	var b [binary.MaxVarintLen64]byte
	if _, err := w.Write(b[:binary.PutUvarint(b[:], uint64(len(s)))]); err != nil {
		return err
	}
	_, err := w.WriteString(s)
	return err
}

func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", io.ErrUnexpectedEOF
	}
	return string(b), nil
}

// candidates spools deletion candidates (key and held version) in the
// order they are found, which is the destination's key order.
type candidates struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func newCandidates(dir string) (*candidates, error) {
	f, err := os.CreateTemp(dir, "candidates-")
	if err != nil {
		return nil, fmt.Errorf("reconcile: candidates: %w", err)
	}
	return &candidates{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (c *candidates) add(key string, v time.Time) error {
	if err := writeString(c.w, key); err != nil {
		return err
	}
	var b [binary.MaxVarintLen64]byte
	_, err := c.w.Write(b[:binary.PutVarint(b[:], v.UnixMicro())])
	c.n++
	return err
}

// each calls fn with every candidate in order.
func (c *candidates) each(fn func(key string, v time.Time) error) error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	if _, err := c.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(c.f, 64<<10)
	for {
		key, err := readString(r)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reconcile: read candidates: %w", err)
		}
		us, err := binary.ReadVarint(r)
		if err != nil {
			return fmt.Errorf("reconcile: read candidates: %w", err)
		}
		if err := fn(key, time.UnixMicro(us).UTC()); err != nil {
			return err
		}
	}
}

func (c *candidates) close() {
	c.f.Close()
	_ = os.Remove(c.f.Name())
}
