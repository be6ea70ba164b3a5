// Which ClusterProfiles Muster publishes, as PlacementDecision sync needs to know before naming one:
// a cached watch of Muster's ClusterProfile namespace, opened once ClusterProfiles can be listed.
// Its own watch (not the ClusterProfile sync's), so neither sync waits on the other.
import type { ClusterProfileStore, ProfileWatch } from './cluster-profile.store';
import { foreignManager } from './cluster-profile.publish';
import type { OwnProfiles } from './placement-decision.store';

export class WatchedOwnProfiles implements OwnProfiles {
  private watch: ProfileWatch | undefined;
  /** The names last seen, so status writes (capacity, heartbeats) do not each start a pass. */
  private seen = '';

  constructor(
    private readonly store: ClusterProfileStore,
    private readonly namespace: string,
  ) {}

  get synced(): boolean {
    return this.watch?.synced === true;
  }

  async open(onChange: () => void): Promise<string | undefined> {
    if (this.watch) return undefined;
    const problem = await this.store.problem(this.namespace);
    if (problem) return problem;
    this.watch = this.store.watch(this.namespace, () => {
      const names = [...this.names()].sort().join(',');
      if (names === this.seen) return;
      this.seen = names;
      onChange();
    });
    return undefined;
  }

  names(): ReadonlySet<string> {
    const names = new Set<string>();
    for (const p of this.watch?.list() ?? []) {
      if (p.metadata.deletionTimestamp || p.spec?.clusterManager?.name === undefined) continue;
      if (foreignManager(p) === undefined) names.add(p.metadata.name);
    }
    return names;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
    this.watch = undefined;
    this.seen = '';
  }
}
