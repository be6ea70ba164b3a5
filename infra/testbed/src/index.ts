// @muster/testbed: real multi-cluster Kubernetes testbeds (kube-apiserver + etcd + scheduler +
// controller-manager + kwok, one process per cluster) for Muster's tests and demo.
export {
  ensureBinary,
  ensureGoBinary,
  findGo,
  sourceHash,
  KUBERNETES_VERSION,
  PACKAGE_ROOT,
  TESTBED_CLUSTER,
} from './binary';
export type { EnsureBinaryOptions, GoProgram } from './binary';
export { kubeRequest, kubeJSON } from './kube';
export type { KubeEndpoint, KubeResponse } from './kube';
export {
  DEVICE_ATTRIBUTES,
  DRA_DRIVER,
  FULL_PROFILE,
  devicesPerNode,
  normalizeDevices,
} from './devices';
export type { DeviceAttributeValue, DeviceSpec, InterconnectSpec, PartitionSpec } from './devices';
export {
  RESOURCE_API,
  buildDeviceClasses,
  buildResourceSlices,
  driversOf,
  interconnectDomain,
} from './resource-slices';
export type {
  CounterConsumption,
  CounterSetObject,
  DeviceClassObject,
  Quantity,
  ResourceSliceObject,
  SliceDevice,
} from './resource-slices';
export {
  LABELS,
  DRA_PARTITIONS,
  KWOK_NODE_ANNOTATION,
  POD_ANNOTATIONS,
  WORKLOAD_API,
  buildNodes,
  effectiveGates,
  loadTopology,
  normalizeTopology,
  parseTopology,
} from './topology';
export type {
  ClusterRole,
  ClusterSpec,
  FakeNode,
  NodePoolSpec,
  TaintSpec,
  TopologySpec,
} from './topology';
export {
  DEMO_TOPOLOGY,
  Testbed,
  cleanupStaleRuns,
  defaultBaseDir,
  notReadyReason,
  pidAlive,
  readState,
  startTestbed,
  statusOf,
  stopState,
} from './testbed';
export type { ClusterState, StartOptions, TestbedCluster, TestbedState } from './testbed';
