package host

// LiveMemories is the number of guest memories allocated and not yet
// released.
func LiveMemories() int64 { return liveMemories.Load() }
