package clock

import (
	"testing"
	"time"
)

func TestShiftedMovesNowNotWaits(t *testing.T) {
	t.Parallel()
	base := NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	offset := time.Duration(0)
	s := Shifted{Base: base, Offset: func() time.Duration { return offset }}
	timer := s.NewTimer(time.Minute)
	offset = 3 * time.Hour
	if got := s.Now(); !got.Equal(base.Now().Add(3 * time.Hour)) {
		t.Fatalf("Now = %v, want the base's plus 3h", got)
	}
	select {
	case <-timer.C():
		t.Fatal("the offset fired a timer of the base clock")
	default:
	}
	base.Advance(time.Minute)
	select {
	case <-timer.C():
	case <-time.After(5 * time.Second):
		t.Fatal("the timer did not fire when the base clock moved")
	}
}
