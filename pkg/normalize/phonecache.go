package normalize

import (
	"hash/maphash"
	"strings"
	"sync"
)

const (
	// phoneCacheShards spreads lock contention; ingest runs one goroutine per core.
	phoneCacheShards = 8
	// phoneCacheShardEntries bounds one generation of one shard. The cache holds at
	// most 2 generations x 8 shards x 2048 = 32768 results (a few MiB at most).
	phoneCacheShardEntries = 2048
	// maxCachedPhoneBytes keeps unusually long input (still under the library's 250
	// byte limit) out of the cache, so junk cannot inflate its memory.
	maxCachedPhoneBytes = 64
)

// phoneResults memoises Phone for the whole process; Phone is a plain function, and
// parse results depend only on the input and the compiled-in metadata.
var phoneResults = newPhoneCache()

// phoneKey identifies one parse: the trimmed input and the upper-cased default region.
type phoneKey struct {
	number string
	region string
}

// phoneCache is a bounded, concurrency-safe memo of parse results. Each shard keeps
// two generations of entries: lookups that hit the older generation promote the entry,
// and when the current generation is full it becomes the older one and the previous
// older one is dropped wholesale. That approximates LRU in O(1) with no per-entry
// bookkeeping: numbers in use stay cached, and one-off input ages out within two
// generations.
type phoneCache struct {
	seed   maphash.Seed
	shards [phoneCacheShards]phoneCacheShard
}

type phoneCacheShard struct {
	mu       sync.Mutex
	current  map[phoneKey]phoneResult
	previous map[phoneKey]phoneResult
}

func newPhoneCache() *phoneCache {
	return &phoneCache{seed: maphash.MakeSeed()}
}

func (c *phoneCache) shard(k phoneKey) *phoneCacheShard {
	return &c.shards[maphash.String(c.seed, k.number)%phoneCacheShards]
}

func (c *phoneCache) get(k phoneKey) (phoneResult, bool) {
	if len(k.number) > maxCachedPhoneBytes {
		return phoneResult{}, false
	}
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r, ok := sh.current[k]; ok {
		return r, true
	}
	r, ok := sh.previous[k]
	if ok {
		sh.insertLocked(k, r)
	}
	return r, ok
}

func (c *phoneCache) put(k phoneKey, r phoneResult) {
	if len(k.number) > maxCachedPhoneBytes {
		return
	}
	// The input may be a slice of a large request body; cloning keeps the cache from
	// pinning whole bodies in memory.
	k.number = strings.Clone(k.number)
	k.region = strings.Clone(k.region)
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.insertLocked(k, r)
}

func (sh *phoneCacheShard) insertLocked(k phoneKey, r phoneResult) {
	if len(sh.current) >= phoneCacheShardEntries {
		sh.previous = sh.current
		sh.current = nil
	}
	if sh.current == nil {
		sh.current = make(map[phoneKey]phoneResult, phoneCacheShardEntries)
	}
	sh.current[k] = r
}

// len reports how many results the cache holds (both generations; for tests).
func (c *phoneCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.current) + len(sh.previous)
		sh.mu.Unlock()
	}
	return n
}
