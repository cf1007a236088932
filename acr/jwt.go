package acr

import (
	"strconv"
	"time"

	"github.com/pullkeys/pullkeys/internal/satoken"
)

// expiry returns the exp claim of a JWT; ok is false without a positive one.
func expiry(token string) (time.Time, bool) {
	c, ok := satoken.Parse(token)
	if !ok || c.Expiry == "" {
		return time.Time{}, false
	}
	sec, err := strconv.ParseFloat(string(c.Expiry), 64)
	if err != nil || sec <= 0 || sec > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}
