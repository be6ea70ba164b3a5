import type { ClusterProfile } from '@muster/k8s';
import type { ClusterProfileStore, ProfileWatch } from './cluster-profile.store';
import { WatchedOwnProfiles } from './placement-decision.profiles';

function profile(name: string, manager = 'muster', deleting = false): ClusterProfile {
  return {
    apiVersion: 'multicluster.x-k8s.io/v1alpha1',
    kind: 'ClusterProfile',
    metadata: {
      name,
      namespace: 'inv',
      ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { displayName: name, clusterManager: { name: manager } },
  };
}

/** Only what WatchedOwnProfiles uses: problem() and watch(). */
function fakeStore(objects: ClusterProfile[], problem?: string) {
  let fire: () => void = () => undefined;
  const watch: ProfileWatch = {
    synced: true,
    list: () => objects,
    get: (n) => objects.find((o) => o.metadata.name === n),
    observe: () => undefined,
    stop: async () => undefined,
  };
  const store = {
    problem: async () => problem,
    watch: (_ns: string, onChange: () => void) => {
      fire = onChange;
      return watch;
    },
  } as unknown as ClusterProfileStore;
  return { store, fire: () => fire() };
}

describe('WatchedOwnProfiles', () => {
  it('names the ClusterProfiles of Muster only: not other managers, not those being deleted', async () => {
    const objects = [profile('a'), profile('b', 'ocm'), profile('c', 'muster', true)];
    const { store } = fakeStore(objects);
    const own = new WatchedOwnProfiles(store, 'inv');
    expect(await own.open(() => undefined)).toBeUndefined();
    expect(own.synced).toBe(true);
    expect([...own.names()]).toEqual(['a']);
  });

  it('says why it cannot open, and is not synced then', async () => {
    const { store } = fakeStore([], 'the ClusterProfile CRD is not installed');
    const own = new WatchedOwnProfiles(store, 'inv');
    expect(await own.open(() => undefined)).toBe('the ClusterProfile CRD is not installed');
    expect(own.synced).toBe(false);
  });

  it('asks for a pass only when the set of names changes, not on every status write', async () => {
    const objects = [profile('a')];
    const { store, fire } = fakeStore(objects);
    const own = new WatchedOwnProfiles(store, 'inv');
    let passes = 0;
    await own.open(() => passes++);
    fire();
    fire(); // a status write of a: same names
    expect(passes).toBe(1);
    objects.push(profile('b'));
    fire();
    expect(passes).toBe(2);
    objects.splice(0, 1);
    fire();
    expect(passes).toBe(3);
  });
});
