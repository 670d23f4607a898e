// xds/: a ResourceType whose single resources can be mesh-sized (RDS: one RouteConfiguration with 10,000 routes).
// The config store decodes, hashes, translates and freezes such a resource in slices (resource-slices.ts) inside its
// chunked apply instead of in one block; `translate` must give exactly what running `translateSteps` to the end gives.
import type { ValidationResult } from '../common/validation.js';
import type { Canonical } from './proto-json.js';
import type { ResourceType, TranslateContext } from './resource-type.js';
import type { SlicePath, Slices } from './resource-slices.js';

export interface SlicedResourceType<T> extends ResourceType<T> {
  /** The repeated message fields, outermost first, between whose elements work may stop. */
  readonly slicePath: SlicePath;
  /** translate() as slices: yields between elements of `slicePath`, returns the same result. */
  translateSteps(resource: Canonical, ctx: TranslateContext): Slices<ValidationResult<T>>;
}

export function isSlicedResourceType<T>(rt: ResourceType<T>): rt is SlicedResourceType<T> {
  return typeof (rt as Partial<SlicedResourceType<T>>).translateSteps === 'function';
}
