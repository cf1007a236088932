package testkit

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		move func(*Clock)
		want time.Time
	}{
		{name: "stands still", move: func(*Clock) {}, want: t0},
		{name: "advance", move: func(c *Clock) { c.Advance(90 * time.Minute) }, want: t0.Add(90 * time.Minute)},
		{name: "advance twice, once back", move: func(c *Clock) { c.Advance(time.Hour); c.Advance(-time.Minute) }, want: t0.Add(59 * time.Minute)},
		{name: "set", move: func(c *Clock) { c.Set(t0.AddDate(1, 0, 0)) }, want: t0.AddDate(1, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClock(t0)
			tt.move(c)
			if got, again := c.Now(), c.Now(); !got.Equal(tt.want) || !again.Equal(tt.want) {
				t.Errorf("Now() = %v, then %v; want %v both times", got, again, tt.want)
			}
		})
	}
}

func TestZeroClockFollowsRealTime(t *testing.T) {
	var c Clock
	before := time.Now()
	got := c.Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Errorf("zero Clock Now() = %v, want the real time (after %v)", got, before)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	const writers, lines = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(&b, "writer %d line %d\n", w, i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var w, i int
		if n, err := fmt.Sscanf(l, "writer %d line %d", &w, &i); n != 2 || err != nil {
			t.Errorf("line %q is torn (%v)", l, err)
		}
	}
}
