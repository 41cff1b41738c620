package runtime

import (
	"strings"
	"testing"
)

func TestErrorWindowNeedsASampleBeforeJudging(t *testing.T) {
	var w errorWindow
	w.add(true, "bad")
	if w.over(0.2) {
		t.Fatal("one failed record of one paused the pipeline")
	}
	for range mappingMinSample - 2 {
		w.add(true, "bad")
	}
	if w.n != mappingMinSample-1 || w.over(0.2) {
		t.Fatalf("%d records, all failed: judged before the minimum sample of %d", w.n, mappingMinSample)
	}
	w.add(false, "")
	if !w.over(0.2) {
		t.Fatalf("%d of %d failed: not over 20%%", w.errors, w.n)
	}
}

func TestErrorWindowSlides(t *testing.T) {
	var w errorWindow
	// 20 failures, then enough good records to push them out of the window.
	for i := range 20 {
		w.add(true, "bad "+string(rune('a'+i)))
	}
	for range mappingWindow - 20 {
		w.add(false, "")
	}
	if w.n != mappingWindow || w.errors != 20 {
		t.Fatalf("window %d records, %d failed; want %d, 20", w.n, w.errors, mappingWindow)
	}
	if w.over(0.2) {
		t.Fatal("exactly 20% failed passed a 20% threshold")
	}
	if !w.over(0.19) {
		t.Fatal("20% failed did not pass a 19% threshold")
	}
	for range 20 {
		w.add(false, "")
	}
	if w.errors != 0 || w.n != mappingWindow || w.over(0) {
		t.Fatalf("after the failures slid out: %d failed of %d", w.errors, w.n)
	}
	if w.sample != "bad t" {
		t.Fatalf("sample %q, want the latest failure", w.sample)
	}
}

func TestClipKeepsRunes(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	got := clip(s, 5)
	if got != "éé…" {
		t.Fatalf("clip = %q", got)
	}
	if clip("short", 10) != "short" {
		t.Fatal("clip changed a short string")
	}
}
