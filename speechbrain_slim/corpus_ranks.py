"""The ranks of a ``torchrun`` job: one device per rank and the few collectives corpus
enhancement needs (:mod:`speechbrain_slim.corpus_enhance`).

``torchrun`` (``torch.distributed.run``) starts one process per rank and tells it
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and where to meet; :class:`Ranks` joins the
process group (NCCL on ``cuda:LOCAL_RANK`` when a CUDA device is asked for, else gloo on
the CPU) and offers all-gather, gather and broadcast of small Python objects. Without
``torchrun`` (``WORLD_SIZE`` unset or 1) it is one rank and the collectives are trivial.

Authors
 * speechbrain-slim contributors 2026
"""

import datetime
import os

__all__ = ["Ranks"]


class Ranks:
    """This process's rank, its device, and object collectives over all ranks.

    Arguments
    ---------
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; under torchrun a CUDA device becomes
        ``cuda:LOCAL_RANK`` (one GPU per rank).
    timeout : datetime.timedelta
        How long a collective waits for the slowest rank.

    Example
    -------
    >>> with Ranks("cpu") as ranks:
    ...     ranks.rank, ranks.world_size, ranks.all_gather("a"), ranks.broadcast(3)
    (0, 1, ['a'], 3)
    """

    def __init__(self, device="cpu", timeout=datetime.timedelta(hours=24)):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device, self.timeout = str(device), timeout
        self.distributed = self.world_size > 1
        self._joined = False

    def __enter__(self):
        import torch

        cuda = self.device.startswith("cuda")
        if cuda and not torch.cuda.is_available():
            raise RuntimeError(f"--device {self.device}, but torch sees no CUDA device")
        if cuda and self.distributed:
            if self.local_rank >= torch.cuda.device_count():
                raise RuntimeError(
                    f"rank {self.rank} has LOCAL_RANK {self.local_rank} but this node has "
                    f"{torch.cuda.device_count()} CUDA devices: start at most that many "
                    "processes per node (--nproc_per_node)")
            self.device = f"cuda:{self.local_rank}"
            torch.cuda.set_device(self.device)
        if self.distributed:
            import torch.distributed as dist

            if cuda:
                dist.init_process_group("nccl", timeout=self.timeout,
                                        device_id=torch.device(self.device))
            else:
                dist.init_process_group("gloo", timeout=self.timeout)
            self._joined = True
        return self

    def __exit__(self, *exc):
        if self._joined:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._joined = False
        return False

    def all_gather(self, value):
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def gather(self, value):
        """Every rank's ``value``, in rank order, on rank 0 (None elsewhere)."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        values = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(value, values, dst=0)
        return values

    def broadcast(self, value):
        """Rank 0's ``value`` on every rank."""
        if not self.distributed:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]
