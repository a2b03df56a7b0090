package clock

import (
	"context"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestFakeSleepAdvances(t *testing.T) {
	f := NewFake(epoch)
	if err := f.Sleep(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := f.Now(); !got.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("Now = %v, want a minute later", got)
	}
	if f.Slept() != time.Minute {
		t.Fatalf("Slept = %v", f.Slept())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Sleep(ctx, time.Minute); err != context.Canceled {
		t.Fatalf("Sleep on a done context = %v, want context.Canceled", err)
	}
}

func TestFakeTimerFiresAtDeadline(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(10 * time.Second)
	f.Advance(9 * time.Second)
	if fired(tm.C()) {
		t.Fatal("fired before its deadline")
	}
	f.Advance(time.Second)
	if !fired(tm.C()) {
		t.Fatal("did not fire at its deadline")
	}
	if tm.Stop() {
		t.Fatal("Stop after firing reported the timer as stopped early")
	}
	if f.Waiters() != 0 {
		t.Fatalf("%d waiters after the timer fired", f.Waiters())
	}
}

func TestFakeTimerStopped(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop before firing reported false")
	}
	f.Advance(time.Hour)
	if fired(tm.C()) {
		t.Fatal("a stopped timer fired")
	}
}

func TestFakeTimerZeroFiresAtOnce(t *testing.T) {
	f := NewFake(epoch)
	if !fired(f.NewTimer(0).C()) {
		t.Fatal("a zero timer did not fire at once")
	}
}

func TestFakeTickerTicksEveryPeriodAndDropsMissed(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(time.Second)
	defer tk.Stop()
	f.Advance(500 * time.Millisecond)
	if fired(tk.C()) {
		t.Fatal("ticked early")
	}
	f.Advance(500 * time.Millisecond)
	if !fired(tk.C()) {
		t.Fatal("no tick after one period")
	}
	f.Advance(5 * time.Second) // several periods, one tick delivered
	if !fired(tk.C()) || fired(tk.C()) {
		t.Fatal("want exactly one tick after a long advance")
	}
	f.Advance(time.Second)
	if !fired(tk.C()) {
		t.Fatal("no tick on the next period after a long advance")
	}
	tk.Stop()
	f.Advance(time.Hour)
	if fired(tk.C()) {
		t.Fatal("a stopped ticker ticked")
	}
}

func TestFakeWaitForWaiters(t *testing.T) {
	f := NewFake(epoch)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ch, _ := After(f, time.Minute)
		<-ch
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Minute)
	<-done
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := f.WaitForWaiters(short, 1); err != context.Canceled {
		t.Fatalf("WaitForWaiters with nobody waiting = %v, want context.Canceled", err)
	}
}

func TestRealTimerAndTicker(t *testing.T) {
	var c Clock = Real{}
	<-c.NewTimer(time.Millisecond).C()
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
}
