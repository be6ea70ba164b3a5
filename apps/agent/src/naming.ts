// Deterministic member pod names: the same gang, token, pod set and index always give the same
// name, so a repeated dispatch (or a restarted agent) can never create a member twice.
import { createHash } from 'node:crypto';

/** Longest pod name produced; a DNS label, so the name is also usable as a hostname. */
export const MAX_POD_NAME = 63;
const GANG_PART = 12;

function sha(text: string, chars: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars);
}

/** First 12 hex digits of the gang id (UUIDs and hex ids), else of the id's SHA-256. */
export function gangNamePart(gangId: string): string {
  const hex = gangId.toLowerCase().replace(/-/g, '');
  if (/^[0-9a-f]+$/.test(hex) && hex.length >= GANG_PART) return hex.slice(0, GANG_PART);
  return sha(gangId, GANG_PART);
}

/**
 * `m-<12 hex of gang id>-<token>-<pod set>-<index>`, at most 63 characters. A pod set name that
 * is not already a clean DNS label, or is too long, is cleaned / shortened and gets 5 hex digits
 * of its hash, so two different pod sets never share a name.
 */
export function memberPodName(
  gangId: string,
  token: number,
  podSet: string,
  index: number,
): string {
  const prefix = `m-${gangNamePart(gangId)}-${token}-`;
  const suffix = `-${index}`;
  const room = MAX_POD_NAME - prefix.length - suffix.length;
  const clean = podSet
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  let part = clean;
  if (clean !== podSet || clean.length > room || clean === '') {
    const hash = sha(podSet, 5);
    const keep = Math.max(0, room - hash.length - 1);
    const head = clean.slice(0, keep).replace(/-+$/, '');
    part = head === '' ? hash : `${head}-${hash}`;
  }
  return `${prefix}${part}${suffix}`;
}

/**
 * The gang's PodGroup (scheduling.k8s.io/v1alpha2): `m-<12 hex of gang id>-<token>`, so the same
 * gang and token always name the same PodGroup and a new token a new one.
 */
export function gangPodGroupName(gangId: string, token: number): string {
  return `m-${gangNamePart(gangId)}-${token}`;
}

/** Longest ResourceClaimTemplate name: a DNS-1123 subdomain. */
export const MAX_CLAIM_TEMPLATE_NAME = 253;

/**
 * The gang's copy of the job's ResourceClaimTemplate `template` (a DNS-1123 subdomain):
 * `m-<12 hex of gang id>-<token>-<template>`, so each gang and token has its own and a repeated
 * dispatch finds the same one. Too long, the template name is shortened and suffixed with 8 hex
 * digits of its hash (at most 253 characters).
 */
export function claimTemplateName(gangId: string, token: number, template: string): string {
  const prefix = `m-${gangNamePart(gangId)}-${token}-`;
  if (prefix.length + template.length <= MAX_CLAIM_TEMPLATE_NAME) return `${prefix}${template}`;
  const hash = sha(template, 8);
  const keep = MAX_CLAIM_TEMPLATE_NAME - prefix.length - hash.length - 1;
  const head = template.slice(0, Math.max(0, keep)).replace(/[-.]+$/, '');
  return head === '' ? `${prefix}${hash}` : `${prefix}${head}-${hash}`;
}
