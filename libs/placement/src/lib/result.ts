/**
 * Error values instead of exceptions: everything that can go wrong because of caller input
 * (a malformed quantity, a gang with a duplicate pod set name) comes back as a value the hub can
 * log, surface to the user and keep going — one bad job spec must never crash a control plane.
 */

/** Machine-readable codes for input errors. */
export type PlacementErrorCode =
  /** The text is not a Kubernetes quantity (e.g. `"12 GB"`, `"1.5.2"`, `"abc"`). */
  | 'InvalidQuantity'
  /** A quantity is negative where only non-negative amounts make sense (requests, capacity). */
  | 'NegativeQuantity'
  /** A quantity (or its exponent) is beyond what Kubernetes can represent (int64 units). */
  | 'QuantityOutOfRange'
  /** An extended resource (e.g. `nvidia.com/gpu`) was given a fractional amount. */
  | 'FractionalExtendedResource'
  /** A resource name is not a valid Kubernetes resource name. */
  | 'InvalidResourceName'
  /** A gang is structurally invalid (duplicate pod set names, bad member count, ...). */
  | 'InvalidGang'
  /** A cluster snapshot is structurally invalid (duplicate node names, ...). */
  | 'InvalidCluster'
  /** A placement does not match the snapshot or gang it is applied to. */
  | 'InvalidPlacement';

/** An input error. `field` is a path to the offending value, e.g. `podSets[1].requests["nvidia.com/gpu"]`. */
export interface PlacementError {
  readonly code: PlacementErrorCode;
  /** Path of the offending input value; names the resource for quantity errors. */
  readonly field: string;
  /** One human sentence, safe to show to the job's owner. */
  readonly message: string;
}

/** Either a value or an error; never thrown. */
export type Result<T, E = PlacementError> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

/** Wraps a value as a successful {@link Result}. */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/** Builds a failed {@link Result}. */
export function err(
  code: PlacementErrorCode,
  field: string,
  message: string,
): { readonly ok: false; readonly error: PlacementError } {
  return { ok: false, error: { code, field, message } };
}
