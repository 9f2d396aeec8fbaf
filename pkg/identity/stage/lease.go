package stage

import (
	"slices"
	"strings"
	"sync/atomic"

	kafkago "github.com/segmentio/kafka-go"
)

// leaseBalancer assigns the lease topic's one partition — the right to work —
// and keeps it where it is: the member that held it in the last generation
// says so in its join metadata and keeps it. Without this, a standby joining
// the group could take the lease on a rebalance and start a replay while the
// working instance, warm and caught up, steps down.
type leaseBalancer struct {
	held *atomic.Bool // this instance held the lease in its last generation
}

var _ kafkago.GroupBalancer = leaseBalancer{}

const leaseHolder = "holds-lease"

func (leaseBalancer) ProtocolName() string { return "cx360-lease" }

func (b leaseBalancer) UserData() ([]byte, error) {
	if b.held.Load() {
		return []byte(leaseHolder), nil
	}
	return nil, nil
}

// AssignGroups gives every partition to the previous holder, or else to the
// member with the lowest id, so the choice is the same on every member.
func (leaseBalancer) AssignGroups(members []kafkago.GroupMember, partitions []kafkago.Partition) kafkago.GroupMemberAssignments {
	out := kafkago.GroupMemberAssignments{}
	if len(members) == 0 {
		return out
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b kafkago.GroupMember) int { return strings.Compare(a.ID, b.ID) })
	winner := sorted[0]
	for _, m := range sorted {
		if string(m.UserData) == leaseHolder {
			winner = m
			break
		}
	}
	for _, m := range sorted {
		out[m.ID] = map[string][]int{}
	}
	for _, p := range partitions {
		out[winner.ID][p.Topic] = append(out[winner.ID][p.Topic], p.ID)
	}
	return out
}
