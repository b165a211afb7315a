// Short random names: the default worker handle suffix.
import { customAlphabet } from 'nanoid';

/** The digits of handles, job and worker alike. */
export const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

export const randomSuffix = customAlphabet(BASE36, 2);
