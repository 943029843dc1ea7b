package commands

import (
	"fmt"
	"sync"
	"time"

	"github.com/shareledger/shareledger/domain"
)

// MailQuota limits the mails one person may cause in a day (UTC) through
// the commands this instance handles: invitations to cloud projects and
// partner requests' notices. It answers at once, before anything is
// appended; the notifier applies the same limit to what it sends, by the
// events' times, so several instances together cannot exceed it either.
type MailQuota struct {
	// PerDay is the limit; 0 means none.
	PerDay int
	mu     sync.Mutex
	day    string
	used   map[domain.Actor]int
}

// ErrMailQuota is a command that would send more mails than its caller
// may send today.
type ErrMailQuota struct {
	PerDay, Used, Asked int
	RetryAfter          time.Duration
}

// Limit implements problem.Limited: the answer is 429 with Retry-After.
func (e *ErrMailQuota) Limit() (string, time.Duration) { return "mail-quota-exceeded", e.RetryAfter }

func (e *ErrMailQuota) Error() string {
	return fmt.Sprintf("one person may cause %d invitation mails a day; you have caused %d today and this command would add %d; try again tomorrow (UTC) or ask your operator to raise --invitations-per-day",
		e.PerDay, e.Used, e.Asked)
}

// Take counts n mails against by's quota for the day of now, or refuses.
func (q *MailQuota) Take(by domain.Actor, n int, now time.Time) error {
	if q == nil || q.PerDay <= 0 || n == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now = now.UTC()
	if day := now.Format(time.DateOnly); day != q.day {
		// A new day: yesterday's counts go, so the map holds one day's
		// senders at most.
		q.day, q.used = day, map[domain.Actor]int{}
	}
	if used := q.used[by]; used+n > q.PerDay {
		midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
		return &ErrMailQuota{PerDay: q.PerDay, Used: used, Asked: n, RetryAfter: midnight.Sub(now)}
	}
	q.used[by] += n
	return nil
}

// Give returns n mails that a command took but did not send.
func (q *MailQuota) Give(by domain.Actor, n int, now time.Time) {
	if q == nil || q.PerDay <= 0 || n == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if now.UTC().Format(time.DateOnly) == q.day && q.used[by] >= n {
		q.used[by] -= n
	}
}
