// Package guard bounds the calls on one guest instance in time: the build's
// and then the model's. A [Guard] stops the running call when its deadline
// passes, when its parent context is done, or when the instance is being
// closed ([Guard.Stop]); stopping closes the channel the call's context
// returns from Done and raises the instance's stop flag (package
// interrupt), so the guest traps at its next function entry or loop header.
//
// # Design
//
// A guard does without the three allocations of a context.WithTimeout per
// call: its timer and done channel are made once per instance, because the
// instance's calls are serialised and a guard that fires closes the
// instance for good.
//
// Nor does it reset its timer for every call, which costs more than the
// rest of the guard (the runtime's timer locks; docs/PERFORMANCE.md, section 2,
// "What changed"): a call only records its deadline, and the timer, once
// scheduled, is due at or before it. When the timer fires it stops the
// running call if that call's deadline has passed, and otherwise schedules
// itself again for the running call's deadline, or rests if no call is
// running, for the next Arm to schedule. Every call of a guard has the same
// timeout (the host's), so a timer scheduled for an earlier call is never
// due after a later call's deadline. The timer of a closed instance may
// fire once more, find no call and rest: it holds only the guard, never the
// instance.
//
// Arm and Disarm are called by the goroutine running the instance's call;
// the timer's function and the parent's callback run on others, and all of
// them meet in the deadline, changed only atomically.
package guard
