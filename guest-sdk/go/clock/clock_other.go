//go:build !wasip1

package clock

import "time"

var origin = time.Now()

func now() int64 { return time.Now().UnixNano() }

func monotonic() int64 { return int64(time.Since(origin)) }
