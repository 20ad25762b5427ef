package main

import (
	"context"
	"fmt"
	"os"
)

// borg is a peer as restic is: it backs up the same export folder into a
// repository made with its defaults for an unencrypted one (`borg init -e none`,
// lz4), and restores it with `borg extract`.
const sysBorg = "borg"

// borgEnv is the environment of every borg call: its cache, config and security
// folders below the run's directory, and no question asked.
func (b *bench) borgEnv() []string {
	return []string{
		"BORG_REPO=" + b.path("borg", "repo"),
		"BORG_BASE_DIR=" + b.path("borg", "base"),
		"BORG_PASSPHRASE=", "BORG_PASSCOMMAND=", "BORG_NEW_PASSPHRASE=",
		"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes",
		"BORG_RELOCATED_REPO_ACCESS_IS_OK=yes",
	}
}

// borgCreate backs up the export folder as an archive named after step; the first
// call initializes the repository (not timed).
func (b *bench) borgCreate(ctx context.Context, step string) error {
	repo := b.path("borg", "repo")
	env := b.borgEnv()
	if step == stepFull {
		b.det.versions[sysBorg] = version(ctx, sysBorg, "--version")
		if err := os.MkdirAll(b.path("borg", "base"), 0o755); err != nil {
			return err
		}
		if _, err := runChild(ctx, env, sysBorg, "init", "-e", "none"); err != nil {
			return err
		}
	}
	return b.peerBackup(ctx, env, sysBorg, step, repo, "create", "::"+step)
}

// borgExtract restores the incremental archive into a folder of its own.
func (b *bench) borgExtract(ctx context.Context) error {
	target := b.path("borg", "restored")
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	res, err := runChildIn(ctx, target, b.borgEnv(), sysBorg, "extract", "::"+stepIncremental)
	if err != nil {
		return err
	}
	size, err := dirSize(target)
	if err != nil {
		return err
	}
	b.det.cpu[sysBorg+"/"+stepRestore] = res.CPU
	b.add(Result{System: sysBorg, Step: stepRestore, Seconds: res.Seconds, BytesWritten: size, PeakHeapBytes: res.MaxRSS})
	return nil
}

// borgCheck reads back and checks every chunk of the repository, as graphvault's
// full verify reads every object: `borg check --verify-data`.
func (b *bench) borgCheck(ctx context.Context) error {
	res, err := runChild(ctx, b.borgEnv(), sysBorg, "check", "--verify-data")
	if err != nil {
		return err
	}
	b.det.cpu[sysBorg+"/"+stepVerify] = res.CPU
	b.add(Result{System: sysBorg, Step: stepVerify, Seconds: res.Seconds, PeakHeapBytes: res.MaxRSS})
	return nil
}

// resticCheck reads back and checks every pack of the repository:
// `restic check --read-data`.
func (b *bench) resticCheck(ctx context.Context) error {
	res, err := runChild(ctx, b.resticEnv(), sysRestic, "check", "--read-data", "-q")
	if err != nil {
		return fmt.Errorf("restic check: %w", err)
	}
	b.det.cpu[sysRestic+"/"+stepVerify] = res.CPU
	b.add(Result{System: sysRestic, Step: stepVerify, Seconds: res.Seconds, PeakHeapBytes: res.MaxRSS})
	return nil
}
