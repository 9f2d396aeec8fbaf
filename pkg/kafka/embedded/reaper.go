package embedded

import (
	"context"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// memberReaper removes consumer-group members that stopped talking to the
// broker, which kfake itself misses in one case.
//
// Why: kfake starts a member's session timer when it delivers the member's
// JoinGroup response. If the member's process died while its JoinGroup was
// waiting (kill -9 during a rebalance), the delivery fails, no timer starts,
// and once the group's leader syncs, the dead member keeps its share of the
// partitions for good: nobody consumes them. Real Kafka expires such a member
// after its session timeout; the reaper does the same, from the outside, with
// a LeaveGroup on the member's behalf. It watches every classic-group request
// (join, sync, heartbeat, commit) to know when each member was last heard of,
// and acts only on Stable groups, where every live member heartbeats.
type memberReaper struct {
	client   *kafkago.Client
	logger   *zap.Logger
	interval time.Duration

	mu      sync.Mutex
	groups  map[string]*groupLiveness
	stop    context.CancelFunc
	stopped chan struct{}
}

// groupLiveness is what the reaper knows of one group's members.
type groupLiveness struct {
	lastHeard      map[string]time.Time     // member id → last request
	sessionTimeout map[string]time.Duration // member id → its JoinGroup's session timeout
	maxSession     time.Duration            // for members whose join the reaper never saw
}

// defaultSessionTimeout is Kafka's group.consumer.session.timeout default,
// used for a member whose JoinGroup the reaper did not see.
const defaultSessionTimeout = 45 * time.Second

func newMemberReaper(cluster *kfake.Cluster, addrs []string, interval time.Duration, logger *zap.Logger) *memberReaper {
	r := &memberReaper{
		client:   &kafkago.Client{Addr: kafkago.TCP(addrs...), Timeout: 5 * time.Second},
		logger:   logger,
		interval: interval,
		groups:   map[string]*groupLiveness{},
		stopped:  make(chan struct{}),
	}
	observe := func(req kmsg.Request) (kmsg.Response, error, bool) {
		r.observe(req, time.Now())
		return nil, nil, false // observed only: kfake handles the request as usual
	}
	for _, key := range []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.OffsetCommit, kmsg.LeaveGroup} {
		cluster.ControlKey(key.Int16(), observe)
	}
	return r
}

// observe records that a member spoke. It runs on kfake's request path, so it
// only touches a map.
func (r *memberReaper) observe(req kmsg.Request, now time.Time) {
	var group, member string
	var session time.Duration
	switch req := req.(type) {
	case *kmsg.JoinGroupRequest:
		group, member = req.Group, req.MemberID
		session = time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	case *kmsg.SyncGroupRequest:
		group, member = req.Group, req.MemberID
	case *kmsg.HeartbeatRequest:
		group, member = req.Group, req.MemberID
	case *kmsg.OffsetCommitRequest:
		group, member = req.Group, req.MemberID
	case *kmsg.LeaveGroupRequest:
		group, member = req.Group, req.MemberID
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[group]
	if g == nil {
		g = &groupLiveness{lastHeard: map[string]time.Time{}, sessionTimeout: map[string]time.Duration{}}
		r.groups[group] = g
	}
	if session > 0 {
		g.maxSession = max(g.maxSession, session)
	}
	if member == "" {
		return // a first join: the id comes in the response
	}
	g.lastHeard[member] = now
	if session > 0 {
		g.sessionTimeout[member] = session
	}
}

// start runs the reaper until stop.
func (r *memberReaper) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() {
		defer close(r.stopped)
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.reap(ctx, time.Now())
			}
		}
	}()
}

// close stops the reaper and waits for it. Idempotent.
func (r *memberReaper) close() {
	if r.stop != nil {
		r.stop()
		<-r.stopped
	}
}

// reap removes the silent members of Stable groups.
func (r *memberReaper) reap(ctx context.Context, now time.Time) {
	listed, err := r.client.ListGroups(ctx, &kafkago.ListGroupsRequest{})
	if err != nil || len(listed.Groups) == 0 {
		return // the broker is closing or has no groups; try again next tick
	}
	ids := make([]string, 0, len(listed.Groups))
	for _, g := range listed.Groups {
		ids = append(ids, g.GroupID)
	}
	described, err := r.client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: ids})
	if err != nil {
		return
	}
	for _, g := range described.Groups {
		if g.Error != nil || g.GroupState != "Stable" {
			continue
		}
		var silent []kafkago.LeaveGroupRequestMember
		for _, m := range r.silentMembers(g.GroupID, g.Members, now) {
			silent = append(silent, kafkago.LeaveGroupRequestMember{ID: m})
		}
		if len(silent) == 0 {
			continue
		}
		if _, err := r.client.LeaveGroup(ctx, &kafkago.LeaveGroupRequest{GroupID: g.GroupID, Members: silent}); err != nil {
			r.logger.Warn("embedded kafka: removing silent group members", zap.String("group", g.GroupID), zap.Error(err))
			continue
		}
		r.logger.Info("embedded kafka: removed group members silent past their session timeout",
			zap.String("group", g.GroupID), zap.Int("members", len(silent)))
	}
}

// silentMembers returns the members of a group not heard of within their
// session timeout. A member never heard of starts its clock now.
func (r *memberReaper) silentMembers(group string, members []kafkago.DescribeGroupsResponseMember, now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[group]
	if g == nil {
		g = &groupLiveness{lastHeard: map[string]time.Time{}, sessionTimeout: map[string]time.Duration{}}
		r.groups[group] = g
	}
	present := make(map[string]bool, len(members))
	var silent []string
	for _, m := range members {
		present[m.MemberID] = true
		last, ok := g.lastHeard[m.MemberID]
		if !ok {
			g.lastHeard[m.MemberID] = now
			continue
		}
		timeout := g.sessionTimeout[m.MemberID]
		if timeout == 0 {
			timeout = g.maxSession
		}
		if timeout == 0 {
			timeout = defaultSessionTimeout
		}
		if now.Sub(last) > timeout {
			silent = append(silent, m.MemberID)
		}
	}
	for id := range g.lastHeard { // forget members that left
		if !present[id] {
			delete(g.lastHeard, id)
			delete(g.sessionTimeout, id)
		}
	}
	return silent
}
