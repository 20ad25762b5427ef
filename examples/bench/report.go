package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// heapBudget is the target for graphvault's peak extra heap in every step (a
// snapshot, a restore, a full verify): 64 MiB plus 48 bytes per record.
func heapBudget(records int64) int64 { return 64<<20 + 48*records }

// target is one of the targets, checked against a run.
type target struct {
	name   string
	value  float64 // the measured ratio or amount
	limit  float64 // value <= limit passes
	format func(float64) string
	note   string
	ok     bool // both sides were measured
	// atLeast makes limit a floor: value >= limit passes.
	atLeast bool
}

func ratio(v float64) string   { return fmt.Sprintf("%.3f", v) }
func bytesOf(v float64) string { return human(int64(v)) }

// targets computes the targets from a report.
func targets(rep *Report, det *details) []target {
	get := func(system, step string) (Result, bool) { return rep.find(system, step) }
	gvFull, okFull := get(sysGraphvault, stepFull)
	gvInc, okInc := get(sysGraphvault, stepIncremental)
	gvRestore, okRestore := get(sysGraphvault, stepRestore)
	rsFull, okRsFull := get(sysRestic, stepFull)
	rsInc, okRsInc := get(sysRestic, stepIncremental)
	rsRestore, okRsRestore := get(sysRestic, stepRestore)
	gvVerify, okVerify := get(sysGraphvault, stepVerify)
	rsVerify, okRsVerify := get(sysRestic, stepVerify)
	bgFull, okBgFull := get(sysBorg, stepFull)
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}

	// The file's targets are the GraphML issue's (full 0.5, restore 1.0 x
	// restic's); the graph's in memory, the performance issue's.
	fullLimit, restoreLimit := 0.4, 0.5
	if det != nil && det.source == sourceGraphML {
		fullLimit, restoreLimit = 0.5, 1.0
	}
	var ts []target
	ts = append(ts, target{
		name: "full time / restic full time", limit: fullLimit, format: ratio,
		value: div(gvFull.Seconds, rsFull.Seconds), ok: okFull && okRsFull,
		note: "restic skipped",
	}, target{
		name: "full time / borg full time", limit: 0.5, format: ratio,
		value: div(gvFull.Seconds, bgFull.Seconds), ok: okFull && okBgFull,
		note: "borg skipped",
	})
	ts = append(ts, target{
		name: "full bytes / restic full bytes", limit: 1.0, format: ratio,
		value: div(float64(gvFull.BytesWritten), float64(rsFull.BytesWritten)), ok: okFull && okRsFull,
		note: "restic skipped",
	})
	incNote := ""
	if okRsInc && okRsFull {
		incNote = fmt.Sprintf("restic: %.3f", div(float64(rsInc.BytesWritten), float64(rsFull.BytesWritten)))
	}
	ts = append(ts, target{
		name: "incremental bytes / full bytes", limit: 0.03, format: ratio,
		value: div(float64(gvInc.BytesWritten), float64(gvFull.BytesWritten)), ok: okFull && okInc,
		note: incNote,
	})
	if det != nil && det.source == sourceGraphML {
		gvSame, okSame := get(sysGraphvault, stepUnchanged)
		rsSame, okRsSame := get(sysRestic, stepUnchanged)
		sameNote := ""
		if okRsSame {
			sameNote = fmt.Sprintf("restic: %.3f s", rsSame.Seconds)
		}
		ts = append(ts, target{
			name: "unchanged time (s)", limit: 0.5, format: ratio,
			value: gvSame.Seconds, ok: okSame, note: sameNote,
		}, target{
			name: "unchanged time / full time", limit: 0.1, format: ratio,
			value: div(gvSame.Seconds, gvFull.Seconds), ok: okSame && okFull,
		}, target{
			name: "incremental time / restic incremental time", limit: 0.3, format: ratio,
			value: div(gvInc.Seconds, rsInc.Seconds), ok: okInc && okRsInc,
			note: "restic skipped",
		})
	} else {
		incTimeNote := ""
		if okRsInc && okRsFull {
			incTimeNote = fmt.Sprintf("restic: %.3f", div(rsInc.Seconds, rsFull.Seconds))
		}
		ts = append(ts, target{
			name: "incremental time / full time", limit: 0.30, format: ratio,
			value: div(gvInc.Seconds, gvFull.Seconds), ok: okFull && okInc,
			note: incTimeNote,
		})
	}
	ts = append(ts, target{
		name: "restore time / restic restore time", limit: restoreLimit, format: ratio,
		value: div(gvRestore.Seconds, rsRestore.Seconds), ok: okRestore && okRsRestore,
		note: "restic skipped",
	}, target{
		name: "verify time / restic check --read-data time", limit: 0.5, format: ratio,
		value: div(gvVerify.Seconds, rsVerify.Seconds), ok: okVerify && okRsVerify,
		note: "restic skipped",
	}, target{
		name: "verify time / restore time", limit: 1.0, format: ratio,
		value: div(gvVerify.Seconds, gvRestore.Seconds), ok: okVerify && okRestore,
	})
	if r, ok := get(sysGraphvault, stepReplication); ok {
		ts = append(ts, target{
			name: "replication p99 lag (s)", limit: 1, format: ratio, value: r.Seconds, ok: true,
			note: fmt.Sprintf("at %.0f changes/s", r.Rate),
		}, target{
			name: "replication changes/s achieved", limit: 10000, atLeast: true, value: r.Rate, ok: true,
			format: func(v float64) string { return fmt.Sprintf("%.0f", v) },
		})
	}
	budget := heapBudget(det.records)
	probe := map[string]probeStep{}
	for _, p := range det.probe {
		probe[p.Step] = p
	}
	for _, r := range []struct {
		res Result
		ok  bool
	}{{gvFull, okFull}, {gvInc, okInc}, {gvRestore, okRestore}, {gvVerify, okVerify}} {
		if !r.ok {
			continue
		}
		step := r.res.Step
		value := float64(r.res.PeakHeapBytes)
		note := "in the run"
		if p, ok := probe[step]; ok {
			value = float64(p.PeakBytes)
			note = fmt.Sprintf("engine apart; in the run %s", human(r.res.PeakHeapBytes))
		}
		if step == stepRestore && det.source != sourceGraphML {
			note += fmt.Sprintf(" beyond the %s restored graph", human(det.retained[stepRestore]))
		}
		ts = append(ts, target{
			name:  "peak extra heap, " + step,
			value: value, limit: float64(budget), format: bytesOf, ok: true, note: note,
		})
	}
	return ts
}

// printReport writes the results table and the targets.
func printReport(w io.Writer, rep *Report, det *details) {
	fmt.Fprintf(w, "graph: %d nodes, %d edges (%d records)\n\n", rep.Nodes, rep.Edges, rep.Nodes+rep.Edges)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tstep\tseconds\tcpu seconds\tbytes written\tpeak heap / RSS\t")
	for _, r := range rep.Results {
		cpu := "-"
		if det != nil {
			if v, ok := det.cpu[r.System+"/"+r.Step]; ok {
				cpu = fmt.Sprintf("%.2f", v)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\t\n", r.System, r.Step, r.Seconds, cpu, human(r.BytesWritten), human(r.PeakHeapBytes))
	}
	tw.Flush()
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(w, "\nskipped (not installed or not wanted): %v\n", rep.Skipped)
	}
	if det == nil {
		return
	}
	fmt.Fprintf(w, "\ngraphvault: heap is the peak above the heap before the step (live objects and garbage not yet\n"+
		"collected), sampled every %v; RSS is the child's peak resident set. cpu seconds are user+system\n"+
		"(for graphvault, of the whole process during the step, garbage collection included).\n", sampleInterval)
	switch {
	case det.restoreChecked && det.source == sourceGraphML:
		fmt.Fprintln(w, "restore: the restored file was compared with the source: byte for byte the same.")
	case det.restoreChecked && det.fromGenerator:
		fmt.Fprintln(w, "restore: the restored graph was compared with the generated one (the source dropped before the restore), by an order-independent fingerprint of every record: equal.")
	case det.restoreChecked:
		fmt.Fprintln(w, "restore: the restored graph was compared with the source, node by node and edge by edge: equal.")
	}
	for _, step := range []string{stepFull, stepIncremental} {
		if n, ok := det.rowBytes[step]; ok {
			fmt.Fprintf(w, "snapshot row, %s: %s new\n", step, human(n))
		}
	}
	if det.journal[stepIncremental] {
		fmt.Fprintln(w, "incremental: the file's journal named the changed records (the engine followed it)")
	}
	for _, p := range peers {
		if v := det.versions[p]; v != "" {
			fmt.Fprintf(w, "%s: %s\n", p, v)
		}
	}

	if len(det.probe) > 0 {
		fmt.Fprintf(w, "\nengine heap apart (child process, GOGC=%d, graph streamed from the JSON-lines exports,\n"+
			"restore into a writer that keeps nothing): peak heap above the start of the step\n", probeGCPercent)
		for _, p := range det.probe {
			fmt.Fprintf(w, "  %-11s %7.2fs  %s\n", p.Step, p.Seconds, human(p.PeakBytes))
		}
	}
	fmt.Fprintf(w, "in the run: live heap peak after a collection (full %s, incremental %s, restore %s; GCs %d, %d, %d)\n",
		human(det.live[stepFull]), human(det.live[stepIncremental]), human(det.live[stepRestore]),
		det.gcs[stepFull], det.gcs[stepIncremental], det.gcs[stepRestore])

	if r := det.replication; r != nil {
		fmt.Fprintf(w, "replication: %d changes in %.1f s, %d batches applied by the follower; lag p50 %.3f s, max %.3f s (journal shipped every %v)\n",
			r.changes, r.seconds, r.batches, r.p50, r.max, replicationShipEvery)
	}

	fmt.Fprintf(w, "\ntargets (heap budget 64 MiB + 48 B x %d records = %s):\n", det.records, human(heapBudget(det.records)))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range targets(rep, det) {
		if !t.ok {
			fmt.Fprintf(tw, "  %s\tn/a\t\t\t%s\n", t.name, t.note)
			continue
		}
		if t.note == "restic skipped" || t.note == "borg skipped" {
			t.note = ""
		}
		verdict, cmp := "PASS", "<="
		if t.atLeast {
			cmp = ">="
		}
		if !t.atLeast && t.value > t.limit || t.atLeast && t.value < t.limit {
			verdict = "MISS"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s %s\t%s\t%s\n", t.name, t.format(t.value), cmp, t.format(t.limit), verdict, t.note)
	}
	tw.Flush()
}

func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// human formats a byte count with a binary unit.
func human(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, u := float64(n), 0
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	for f /= unit; (f >= unit || f <= -unit) && u < len(units)-1; u++ {
		f /= unit
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
