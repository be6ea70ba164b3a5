/**
 * @muster/placement — the pure decision at the heart of Muster: which worker cluster (and which
 * nodes and topology domain in it) each gang goes to. No I/O and no Node APIs; its one dependency
 * is a CEL evaluator for DRA device selectors.
 */
export { err, ok } from './lib/result';
export type { PlacementError, PlacementErrorCode, Result } from './lib/result';

export {
  formatQuantity,
  isByteResource,
  MAX_QUANTITY_MILLI,
  MILLI,
  parseQuantity,
} from './lib/quantity';
export {
  addResources,
  compareQuantities,
  compareResources,
  fits,
  formatResourceList,
  isExtendedResource,
  isValidResourceName,
  isZeroResources,
  parseResourceList,
  parseResourceQuantity,
  quantityOf,
  resourceRounding,
  scaleResources,
  shortfall,
  subtractResources,
} from './lib/resources';
export type { QuantityMap, ResourceList, ResourceName, ResourceOrder } from './lib/resources';

export {
  clusterProblem,
  MAX_POD_SET_COUNT,
  nodeAffinityProblem,
  parseClusterSnapshot,
  parseGang,
  validateGang,
} from './lib/model';
export type {
  ClusterSnapshot,
  ClusterSpec,
  ColocationGroup,
  Gang,
  GangSpec,
  NodeSelectorOperator,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  NodeSnapshot,
  NodeSpec,
  PodSet,
  PodSetSpec,
  Taint,
  TaintEffect,
  Toleration,
  TolerationOperator,
  RequiredNodeAffinity,
  TopologyConstraint,
} from './lib/model';

export {
  firstUntoleratedTaint,
  formatNodeAffinity,
  formatSelector,
  formatTaint,
  isHardTaint,
  matchesNodeAffinity,
  matchesNodeSelector,
  toleratesAll,
  toleratesTaint,
} from './lib/scheduling';

export {
  ATTRIBUTE_DOMAIN_MAX_LENGTH,
  ATTRIBUTE_ID_MAX_LENGTH,
  attributeNameProblem,
  claimsProblem,
  compileDeviceSelector,
  deviceKey,
  describeClaims,
  DEVICE_SHAPE_PREFIX,
  MAX_DEVICES_PER_REQUEST,
  NodeDevices,
} from './lib/devices';
export type {
  CounterConsumption,
  CounterSet,
  Device,
  DeviceAttributeValue,
  DeviceClaim,
  DeviceClass,
  DeviceConstraint,
  DeviceRequest,
  ExactDeviceRequest,
} from './lib/devices';
export type { NodeDeviceList } from './lib/device-layer';

export { levelNoun } from './lib/explain';
export type { FitExplanation, FitReasonCode } from './lib/explain';

export {
  applyPlacement,
  fitGang,
  formatDecision,
  placeBatch,
  placeGang,
  PlacementIndex,
  placementStream,
  placementSession,
  PreparedGangs,
} from './lib/place';
export type {
  BatchResult,
  GangDecision,
  InvalidGangDecision,
  PlacedDecision,
  Placement,
  PlacementOptions,
  PlacementPolicy,
  PodSetPlacement,
  TopologyDomainRef,
  UnplacedDecision,
} from './lib/place';
