package lightrag

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Change kinds of a RecordChange.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// RecordChange is one record that differs between two snapshots of a working
// directory, as a snapshot diff lists them (the backup engine's Diff): a node
// record by its ID, or an edge record by its ends and type.
type RecordChange struct {
	Change string // Added, Removed or Changed
	NodeID string // the node record's id; empty for an edge
	Source string // the edge's ends and type
	Target string
	Type   string
}

// StoreDiff is what changed in one store of a working directory: the keys of its
// entries added, removed and changed, each list sorted.
type StoreDiff struct {
	// Store says what the store holds: "entities" and "relations" (the GraphML
	// graph's nodes and edges), "documents", "document status", "chunks", "cache
	// entries" (the key-value stores), "entity vectors", "relation vectors",
	// "chunk vectors" (the vector stores), "entries" or "vectors" for another
	// store, and "files" for the files, folders and links themselves.
	Store string `json:"store"`
	// File is the store's file; empty for the graph and for "files".
	File    string   `json:"file,omitempty"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// Empty reports whether nothing changed in the store.
func (s StoreDiff) Empty() bool { return len(s.Added)+len(s.Removed)+len(s.Changed) == 0 }

// Diff is what changed between two snapshots of a working directory, store by
// store: the entities and relations first, then the stores by file name, then
// the files whose content, kind or mode changed ("files"). Only stores with a
// change are listed. Relations are keyed "source\ttarget" (with "\ttype" when
// the edge has one).
type Diff struct {
	Stores []StoreDiff `json:"stores"`
}

// Store returns the diff of the store with the given name and file, and whether
// it changed.
func (d *Diff) Store(store, file string) (StoreDiff, bool) {
	for _, s := range d.Stores {
		if s.Store == store && s.File == file {
			return s, true
		}
	}
	return StoreDiff{Store: store, File: file}, false
}

// storeNames names what a known store file holds.
var storeNames = map[string]string{
	"kv_store_full_docs.json":          "documents",
	"kv_store_doc_status.json":         "document status",
	"kv_store_text_chunks.json":        "chunks",
	"kv_store_llm_response_cache.json": "cache entries",
	"vdb_entities.json":                "entity vectors",
	"vdb_relationships.json":           "relation vectors",
	"vdb_chunks.json":                  "chunk vectors",
}

func storeName(kind, file string) string {
	if n, ok := storeNames[path.Base(file)]; ok {
		return n
	}
	if kind == "vdb" {
		return "vectors"
	}
	return "entries"
}

// DiffRecords groups the record changes between two snapshots of a working
// directory by store. Records that only carry the layout of files (chunks, the
// root) are left out: a file whose bytes changed is listed under "files". A
// change of an unknown kind, or a reserved record id this package does not
// make, is an error wrapping ErrCorrupt; a piece of a chunked file is
// ErrChunked, since its snapshots hold no entity records to compare.
func DiffRecords(changes []RecordChange) (*Diff, error) {
	type storeKey struct{ store, file string }
	stores := map[storeKey]*StoreDiff{}
	add := func(store, file, change, key string) error {
		k := storeKey{store, file}
		s := stores[k]
		if s == nil {
			s = &StoreDiff{Store: store, File: file}
			stores[k] = s
		}
		switch change {
		case Added:
			s.Added = append(s.Added, key)
		case Removed:
			s.Removed = append(s.Removed, key)
		case Changed:
			s.Changed = append(s.Changed, key)
		default:
			return fmt.Errorf("%w: change %q of %q", ErrCorrupt, change, key)
		}
		return nil
	}
	for _, c := range changes {
		var err error
		switch {
		case c.NodeID == "":
			key := c.Source + "\t" + c.Target
			if c.Type != "" {
				key += "\t" + c.Type
			}
			err = add("relations", "", c.Change, key)
		case !isReserved(c.NodeID):
			err = add("entities", "", c.Change, c.NodeID)
		default:
			parts := splitID(c.NodeID)
			switch {
			case (parts[0] == "kv" || parts[0] == "vdb") && len(parts) == 3:
				err = add(storeName(parts[0], parts[1]), parts[1], c.Change, parts[2])
			case parts[0] == "file" && len(parts) == 2:
				err = add("files", "", c.Change, parts[1])
			case parts[0] == "chunk" && len(parts) == 2, parts[0] == "root" && len(parts) == 1:
			case (parts[0] == "piece" || parts[0] == "patch") && len(parts) == 2:
				return nil, fmt.Errorf("%w: restore both snapshots and compare the files' graphs", ErrChunked)
			default:
				err = fmt.Errorf("%w: unknown record %q", ErrCorrupt, c.NodeID)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	d := &Diff{Stores: []StoreDiff{}}
	for _, s := range stores {
		slices.Sort(s.Added)
		slices.Sort(s.Removed)
		slices.Sort(s.Changed)
		d.Stores = append(d.Stores, *s)
	}
	rank := func(s StoreDiff) int {
		switch s.Store {
		case "entities":
			return 0
		case "relations":
			return 1
		case "files":
			return 3
		}
		return 2
	}
	slices.SortFunc(d.Stores, func(a, b StoreDiff) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.File, b.File), strings.Compare(a.Store, b.Store))
	})
	return d, nil
}
