/*
 * Compile-time proof that the Moddable SDK's flash object is a BlockDevice as
 * it is, with no adapter: if @moddable/typings' `flash` changes shape, this
 * file stops compiling. It has no runtime content.
 */
import type Flash from "flash";
import type { BlockDevice } from "./block-device.js";

type Fits<T extends BlockDevice> = T;
export type SdkFlashIsABlockDevice = Fits<Flash>;
