"""Number formats, their storage size (block scales included) and the rate class they compute at.

A format stores ``element_bits`` per element and, for block-scaled formats, one scale of
``scale_bits`` per ``block`` elements, so an element costs ``element_bits + scale_bits /
block`` bits:

* ``nvfp4``: FP4 (E2M1) elements in 16-element blocks, each with an FP8 (E4M3) scale:
  4 + 8/16 = 4.5 bits (NVIDIA, "Introducing NVFP4", 2025; the per-tensor FP32 scale
  beside it is one number a tensor and left out);
* ``mxfp4``: FP4 (E2M1) elements in 32-element blocks, each with an 8-bit power-of-two
  (E8M0) scale: 4 + 8/32 = 4.25 bits (OCP Microscaling Formats (MX) v1.0, 2023);
* ``fp8_b128``: FP8 (E4M3) with one FP32 scale per 128 x 128 block of a weight matrix,
  8 + 32/16384 bits (DeepSeek-V3's checkpoint: config.json ``quantization_config``
  ``{"fmt": "e4m3", "weight_block_size": [128, 128]}``);
* ``fp8`` (E4M3, per-tensor scale) and ``int8``: 8 bits; ``bf16``/``fp16``: 16; ``int4``:
  4 bits, weight-only (no hardware multiplies it: widened before the multiply).

``compute`` is the tensor rate a multiply in that format runs at where the hardware has it:
``16bit``, ``8bit`` or ``4bit``; a weight-only format (int4) has none of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One number format: element bits, block scales and the rate class it computes at."""
    name: str
    element_bits: int
    block: int = 0              # elements sharing one scale; 0: none beyond a per-tensor one
    scale_bits: int = 0
    compute: str = "16bit"      # "16bit", "8bit", "4bit", or "" (weight-only: widened to 16 bits)

    @property
    def bits(self) -> float:
        """Bits one element takes, its share of its block's scale included."""
        return self.element_bits + (self.scale_bits / self.block if self.block else 0.0)


FORMATS = {f.name: f for f in (
    Format("bf16", 16), Format("fp16", 16),
    Format("fp8", 8, compute="8bit"), Format("int8", 8, compute="8bit"),
    Format("int4", 4, compute=""),
    Format("nvfp4", 4, block=16, scale_bits=8, compute="4bit"),
    Format("mxfp4", 4, block=32, scale_bits=8, compute="4bit"),
    Format("fp8_b128", 8, block=128 * 128, scale_bits=32, compute="8bit"),
)}
BYTES_PER_ELEMENT = {name: f.bits / 8 for name, f in FORMATS.items()}
DTYPES = tuple(BYTES_PER_ELEMENT)
#: the rate classes, narrowest last
COMPUTE_CLASSES = ("16bit", "8bit", "4bit")


def dtype_format(dtype: str) -> Format:
    """The :class:`Format` named ``dtype``; raises ValueError naming the known formats."""
    try:
        return FORMATS[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}") from None


def dtype_bytes(dtype: str) -> float:
    """Bytes per element of ``dtype`` (block scales included); raises ValueError naming the known formats."""
    return dtype_format(dtype).bits / 8


def compute_class(dtype: str) -> str:
    """The rate class a multiply with operands in ``dtype`` runs at: '16bit', '8bit' or '4bit'
    ('16bit' for a weight-only format, widened before the multiply)."""
    return dtype_format(dtype).compute or "16bit"


#: the tensor groups a model preset may store in a format of their own ([weights] table)
WEIGHT_GROUPS = ("attention", "mlp", "experts", "embedding")


@dataclass(frozen=True)
class WeightFormats:
    """The weight format of each tensor group: ``default`` for any group ``groups`` leaves out
    (and for norms and routers, which no checkpoint here stores otherwise)."""
    default: str
    groups: tuple[tuple[str, str], ...] = ()

    def of(self, group: str) -> str:
        return dict(self.groups).get(group, self.default)

    def bytes(self, group: str) -> float:
        return dtype_bytes(self.of(group))

    @property
    def uniform(self) -> bool:
        return all(f == self.default for _, f in self.groups)

    @property
    def formats(self) -> tuple[str, ...]:
        """Every format used, the default first."""
        return tuple(dict.fromkeys([self.default, *(f for _, f in self.groups)]))

    def text(self) -> str:
        """'bf16', or 'bf16 (experts mxfp4)'."""
        rest = [f"{g} {f}" for g, f in self.groups if f != self.default]
        return f"{self.default} ({', '.join(rest)})" if rest else self.default


def weight_formats(dtype: "str | WeightFormats") -> WeightFormats:
    """``dtype`` as :class:`WeightFormats` (a format name: every group in it)."""
    return dtype if isinstance(dtype, WeightFormats) else WeightFormats(dtype)
