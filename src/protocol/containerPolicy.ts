// What a worker's operator lets a job's container have beyond the defaults: a network
// (`-allowNetwork`) and which images (`-allowImages PATTERN...`). The worker reports it with
// its resources; the master sends a job only to a worker whose policy allows it (the job waits
// otherwise), and the worker checks again before it starts a container.
import * as z from 'zod';

export const ContainerPolicySchema = z.object({
  /** Containers may have a network (`-network`). */
  allowNetwork: z.boolean().default(true),
  /** Image patterns a job may name (`*` any run of characters, `?` one); null: any image. */
  allowImages: z.array(z.string().min(1).max(256)).max(64).nullable().default(null),
});
export type ContainerPolicy = z.infer<typeof ContainerPolicySchema>;

const compiled = new Map<string, RegExp>();

/** The patterns as one regex (kept: a pick tests it for every class of Docker jobs). */
function imagesRegex(patterns: readonly string[]): RegExp {
  const key = patterns.join('\0');
  let re = compiled.get(key);
  if (!re) {
    const alt = patterns.map((p) => p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.'));
    re = new RegExp(`^(?:${alt.join('|')})$`);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}

export function imageAllowed(policy: Pick<ContainerPolicy, 'allowImages'>, image: string): boolean {
  return policy.allowImages === null || imagesRegex(policy.allowImages).test(image);
}

/**
 * Why a worker with this policy may not run a job that asks for a network and names `image`
 * (null: none, the worker's own -dockerImage or a process job), or null when it may.
 */
export function refusal(policy: ContainerPolicy, network: boolean, image: string | null): string | null {
  if (network && !policy.allowNetwork) return 'this worker gives containers no network (it was started without -allowNetwork)';
  if (image !== null && !imageAllowed(policy, image)) return `this worker does not run image ${image} (-allowImages ${policy.allowImages!.join(' ')})`;
  return null;
}
