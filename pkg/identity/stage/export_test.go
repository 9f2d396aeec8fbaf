package stage

import "github.com/cx360/cx360/pkg/identity"

// SnapshotCovers returns the input offsets the snapshot in dataDir covers,
// and how many identifiers its graph holds.
func SnapshotCovers(dataDir string) (map[int]int64, int, error) {
	store, err := openSnapshotStore(dataDir)
	if err != nil {
		return nil, 0, err
	}
	g, h, err := store.load(identity.DefaultRules())
	if err != nil {
		return nil, 0, err
	}
	return h.Offsets, g.Stats().Identifiers, nil
}
