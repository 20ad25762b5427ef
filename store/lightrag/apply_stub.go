package lightrag

import (
	"context"
	"fmt"

	"github.com/graphvault/graphvault/store/graph"
)

// Apply would merge a batch of changes into the working directory; merging is not
// supported yet and is refused before anything is written.
func (d *Dir) Apply(ctx context.Context, ops []graph.Op) error {
	return fmt.Errorf("%w: merging changes into a working directory", ErrUnsupported)
}
