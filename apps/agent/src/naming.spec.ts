import { dns1123LabelError, dns1123SubdomainError } from '@muster/k8s';
import fc from 'fast-check';
import {
  claimTemplateName,
  gangNamePart,
  MAX_CLAIM_TEMPLATE_NAME,
  MAX_POD_NAME,
  memberPodName,
} from './naming';

const GANG = '3f2a9c1e-7b4d-4e8f-9a01-23456789abcd';

describe('memberPodName', () => {
  it('is m-<12 hex of gang id>-<token>-<pod set>-<index>', () => {
    expect(memberPodName(GANG, 7, 'workers', 3)).toBe('m-3f2a9c1e7b4d-7-workers-3');
    expect(gangNamePart(GANG)).toBe('3f2a9c1e7b4d');
  });

  it('is deterministic and distinguishes token, pod set and index', () => {
    const names = new Set([
      memberPodName(GANG, 1, 'workers', 0),
      memberPodName(GANG, 2, 'workers', 0),
      memberPodName(GANG, 1, 'workers', 1),
      memberPodName(GANG, 1, 'launcher', 0),
      memberPodName(GANG, 1, 'workers-1', 0),
      memberPodName(GANG, 1, 'workers', 10),
    ]);
    expect(names.size).toBe(6);
    expect(memberPodName(GANG, 1, 'workers', 0)).toBe(memberPodName(GANG, 1, 'workers', 0));
  });

  it('hashes gang ids that are not hex', () => {
    const a = memberPodName('gang/one', 1, 'w', 0);
    expect(a).toMatch(/^m-[0-9a-f]{12}-1-w-0$/);
    expect(a).not.toBe(memberPodName('gang/two', 1, 'w', 0));
  });

  it('shortens long pod set names and keeps them apart with a hash', () => {
    const long = 'a-very-long-pod-set-name-that-goes-on-and-on-and-on';
    const a = memberPodName(GANG, 9_007_199_254_740_991, long, 4095);
    const b = memberPodName(GANG, 9_007_199_254_740_991, `${long}-x`, 4095);
    expect(a.length).toBeLessThanOrEqual(MAX_POD_NAME);
    expect(a).not.toBe(b);
    expect(dns1123LabelError(a)).toBeUndefined();
  });

  it('cleans pod set names that are not DNS labels and keeps them distinct', () => {
    const a = memberPodName(GANG, 1, 'Workers', 0);
    const b = memberPodName(GANG, 1, 'workers', 0);
    expect(a).not.toBe(b);
    expect(dns1123LabelError(a)).toBeUndefined();
    expect(dns1123LabelError(memberPodName(GANG, 1, '---', 0))).toBeUndefined();
  });

  it('always yields a DNS label of at most 63 characters', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 99_999 }),
        (gang, podSet, token, index) => {
          const name = memberPodName(gang, token, podSet, index);
          expect(dns1123LabelError(name)).toBeUndefined();
        },
      ),
    );
  });
});

describe('claimTemplateName', () => {
  it('is m-<12 hex of gang id>-<token>-<template>', () => {
    expect(claimTemplateName(GANG, 7, 'gpu')).toBe('m-3f2a9c1e7b4d-7-gpu');
    expect(claimTemplateName(GANG, 8, 'gpu')).not.toBe(claimTemplateName(GANG, 7, 'gpu'));
  });

  it('shortens a long template name with a hash, keeping different names apart', () => {
    const a = `${'a'.repeat(249)}.x`;
    const b = `${'a'.repeat(249)}.y`;
    expect(claimTemplateName(GANG, 7, a)).toHaveLength(MAX_CLAIM_TEMPLATE_NAME);
    expect(claimTemplateName(GANG, 7, a)).not.toBe(claimTemplateName(GANG, 7, b));
    expect(claimTemplateName(GANG, 7, a)).toMatch(/^m-3f2a9c1e7b4d-7-a+-[0-9a-f]{8}$/);
  });

  it('always yields a DNS-1123 subdomain of at most 253 characters', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    const subdomain = fc
      .array(label, { minLength: 1, maxLength: 6 })
      .map((parts) =>
        parts
          .join('.')
          .slice(0, 253)
          .replace(/[-.]+$/, ''),
      )
      .filter((n) => n !== '' && dns1123SubdomainError(n) === undefined);
    fc.assert(
      fc.property(fc.uuid(), fc.nat({ max: 1e12 }), subdomain, (gang, token, name) => {
        const out = claimTemplateName(gang, token, name);
        expect(dns1123SubdomainError(out)).toBeUndefined();
      }),
    );
  });
});
