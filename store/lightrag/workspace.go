package lightrag

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Workspace is one LightRAG workspace: a folder of store files.
type Workspace struct {
	Name string // "" for the folder itself
	Path string
}

// isStoreFile reports whether a file name is one LightRAG's file storages write.
func isStoreFile(name string) bool {
	return strings.HasSuffix(name, ".graphml") && strings.HasPrefix(name, "graph_") ||
		strings.HasSuffix(name, ".json") && (strings.HasPrefix(name, "kv_store_") || strings.HasPrefix(name, "vdb_"))
}

// Workspaces returns the workspaces of root: root itself when it holds store
// files (everything under it is then one workspace), else each folder directly
// under it that holds store files (rag_storage/<workspace>/), by name. A folder
// with neither is an error wrapping ErrUnsupported.
func Workspaces(root string) ([]Workspace, error) {
	has := func(dir string) (bool, error) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Type().IsRegular() && isStoreFile(e.Name()) }), nil
	}
	ok, err := has(root)
	if err != nil {
		return nil, fmt.Errorf("lightrag: %w", err)
	}
	if ok {
		return []Workspace{{Path: root}}, nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("lightrag: %w", err)
	}
	var out []Workspace
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(root, e.Name())
		if ok, err := has(p); err != nil {
			return nil, fmt.Errorf("lightrag: %w", err)
		} else if ok {
			out = append(out, Workspace{Name: e.Name(), Path: p})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s holds no LightRAG store file (graph_*.graphml, kv_store_*.json, vdb_*.json) nor workspace folders with them", ErrUnsupported, root)
	}
	return out, nil
}
