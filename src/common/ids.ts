// Short random names: the default worker handle suffix.
import { customAlphabet } from 'nanoid';

export const randomSuffix = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 2);
