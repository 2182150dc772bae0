package githubstore

import (
	"context"
	"sync"
)

// flight caches one value per key for the Store's life and makes
// concurrent callers of a missing key wait for a single fetch: 50 writes to
// one repository fetch its public key once. A failed fetch is not cached;
// the next caller tries again.
type flight[V any] struct {
	mu sync.Mutex
	m  map[string]*flightEntry[V]
}

type flightEntry[V any] struct {
	sem chan struct{} // one slot, held while fetching or changing the entry
	ok  bool
	v   V
}

func (f *flight[V]) entry(key string) *flightEntry[V] {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*flightEntry[V]{}
	}
	e := f.m[key]
	if e == nil {
		e = &flightEntry[V]{sem: make(chan struct{}, 1)}
		f.m[key] = e
	}
	return e
}

// get returns the cached value of key when it is still valid (valid nil =
// always), else fetches, caches and returns a new one.
func (f *flight[V]) get(ctx context.Context, key string, valid func(V) bool, fetch func(context.Context) (V, error)) (V, error) {
	e := f.entry(key)
	var zero V
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	defer func() { <-e.sem }()
	if e.ok && (valid == nil || valid(e.v)) {
		return e.v, nil
	}
	v, err := fetch(ctx)
	if err != nil {
		return zero, err
	}
	e.v, e.ok = v, true
	return v, nil
}

// drop forgets key's value if stale says it is the one to forget, so that of
// many callers that saw the same stale value only the first causes a refetch.
func (f *flight[V]) drop(ctx context.Context, key string, stale func(V) bool) {
	e := f.entry(key)
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-e.sem }()
	if e.ok && stale(e.v) {
		var zero V
		e.v, e.ok = zero, false
	}
}

// peek returns key's cached value without fetching or waiting for a fetch.
func (f *flight[V]) peek(key string) (V, bool) {
	e := f.entry(key)
	var zero V
	select {
	case e.sem <- struct{}{}:
	default:
		return zero, false
	}
	defer func() { <-e.sem }()
	return e.v, e.ok
}
