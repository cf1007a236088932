// Package throttle retries a call that a server throttles, for as long as the caller's
// deadline allows, with waits spread so that a crowd of clients does not come back at once.
//
// A plugin process makes one call and exits: it cannot learn the server's rate the way a
// long-lived client does (the AWS SDK's adaptive retry mode keeps its client-side rate in the
// process, which a plugin never reuses). What it can do is wait long enough, at random, that
// a crowd of nodes asking at once (a new node group, a region failover) come back spread over
// the time the server needs to refill. After the n-th throttled answer (n from 0) the wait is
// drawn uniformly from [0, min(Max, First·2ⁿ)) ("full jitter" with a growing ceiling). Before
// each wait the remaining deadline must hold the wait and another attempt (as long as the
// shortest attempt so far, within Policy.Reserve and Policy.MaxReserve): the wait is shortened
// to fit, and when
// no attempt fits any more Do stops at once with an error wrapping ErrThrottled and the last
// answer, instead of waiting for the deadline to pass.
//
// Errors that are not throttling are returned as they are: their short retry is the caller's
// (the SDK's standard retryer, or one pause over HTTP).
package throttle
