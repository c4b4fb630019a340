//! What the running kernel supports: opcodes, setup flags and features.

use std::fmt;

use io_uring::{opcode, IoUring, Probe};

use crate::error::errno_of;
use crate::Error;

/// Opcodes, setup flags and features of the running kernel that matter to this layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// `IORING_OP_NOP`.
    pub op_nop: bool,
    /// `IORING_OP_READ`.
    pub op_read: bool,
    /// `IORING_OP_WRITE`.
    pub op_write: bool,
    /// `IORING_OP_READ_FIXED`.
    pub op_read_fixed: bool,
    /// `IORING_OP_WRITE_FIXED`.
    pub op_write_fixed: bool,
    /// `IORING_OP_FSYNC`.
    pub op_fsync: bool,
    /// `IORING_OP_ASYNC_CANCEL`.
    pub op_async_cancel: bool,
    /// `IORING_FEAT_NODROP`: completions are never dropped on CQ overflow.
    pub feat_nodrop: bool,
    /// `IORING_FEAT_EXT_ARG`: waits can carry a timeout.
    pub feat_ext_arg: bool,
    /// `IORING_FEAT_RSRC_TAGS`: sparse file/buffer tables and updates.
    pub feat_rsrc_tags: bool,
    /// `IORING_SETUP_SQPOLL` works for this process.
    pub setup_sqpoll: bool,
    /// `IORING_SETUP_SINGLE_ISSUER`.
    pub setup_single_issuer: bool,
    /// `IORING_SETUP_COOP_TASKRUN`.
    pub setup_coop_taskrun: bool,
    /// `IORING_SETUP_DEFER_TASKRUN`.
    pub setup_defer_taskrun: bool,
}

impl Features {
    /// The first thing this layer needs that is missing, as `(what, hint)`.
    pub fn missing(&self) -> Option<(&'static str, &'static str)> {
        const OLD: &str = "gdio-uring needs Linux 5.19 or newer";
        let need = [
            (self.op_nop, "IORING_OP_NOP"),
            (self.op_read, "IORING_OP_READ"),
            (self.op_write, "IORING_OP_WRITE"),
            (self.op_read_fixed, "IORING_OP_READ_FIXED"),
            (self.op_write_fixed, "IORING_OP_WRITE_FIXED"),
            (self.op_fsync, "IORING_OP_FSYNC"),
            (self.op_async_cancel, "IORING_OP_ASYNC_CANCEL"),
            (self.feat_nodrop, "IORING_FEAT_NODROP"),
            (self.feat_ext_arg, "IORING_FEAT_EXT_ARG"),
            (self.feat_rsrc_tags, "IORING_FEAT_RSRC_TAGS (sparse tables)"),
        ];
        need.iter()
            .find(|(ok, _)| !ok)
            .map(|(_, what)| (*what, OLD))
    }

    /// Reads opcode support and feature bits from an existing ring.
    pub(crate) fn from_ring(ring: &IoUring) -> Result<Features, Error> {
        let mut p = Probe::new();
        ring.submitter()
            .register_probe(&mut p)
            .map_err(|e| Error::Register {
                op: "PROBE",
                errno: errno_of(&e),
            })?;
        let params = ring.params();
        Ok(Features {
            op_nop: p.is_supported(opcode::Nop::CODE),
            op_read: p.is_supported(opcode::Read::CODE),
            op_write: p.is_supported(opcode::Write::CODE),
            op_read_fixed: p.is_supported(opcode::ReadFixed::CODE),
            op_write_fixed: p.is_supported(opcode::WriteFixed::CODE),
            op_fsync: p.is_supported(opcode::Fsync::CODE),
            op_async_cancel: p.is_supported(opcode::AsyncCancel::CODE),
            feat_nodrop: params.is_feature_nodrop(),
            feat_ext_arg: params.is_feature_ext_arg(),
            feat_rsrc_tags: params.is_feature_resource_tagging(),
            ..Features::default()
        })
    }
}

/// Probes the running kernel: builds small throwaway rings and asks which opcodes, features
/// and setup flags work.
pub fn probe() -> Result<Features, Error> {
    let ring = IoUring::new(8).map_err(|e| crate::builder::setup_error(&e))?;
    let mut f = Features::from_ring(&ring)?;
    drop(ring);
    f.setup_sqpoll = IoUring::<io_uring::squeue::Entry, io_uring::cqueue::Entry>::builder()
        .setup_sqpoll(10)
        .build(8)
        .is_ok();
    f.setup_single_issuer = IoUring::<io_uring::squeue::Entry, io_uring::cqueue::Entry>::builder()
        .setup_single_issuer()
        .build(8)
        .is_ok();
    f.setup_coop_taskrun = IoUring::<io_uring::squeue::Entry, io_uring::cqueue::Entry>::builder()
        .setup_coop_taskrun()
        .build(8)
        .is_ok();
    f.setup_defer_taskrun = IoUring::<io_uring::squeue::Entry, io_uring::cqueue::Entry>::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(8)
        .is_ok();
    Ok(f)
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yn = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "io_uring opcodes:")?;
        writeln!(f, "  NOP            {}", yn(self.op_nop))?;
        writeln!(f, "  READ           {}", yn(self.op_read))?;
        writeln!(f, "  WRITE          {}", yn(self.op_write))?;
        writeln!(f, "  READ_FIXED     {}", yn(self.op_read_fixed))?;
        writeln!(f, "  WRITE_FIXED    {}", yn(self.op_write_fixed))?;
        writeln!(f, "  FSYNC          {}", yn(self.op_fsync))?;
        writeln!(f, "  ASYNC_CANCEL   {}", yn(self.op_async_cancel))?;
        writeln!(f, "features:")?;
        writeln!(f, "  NODROP         {}", yn(self.feat_nodrop))?;
        writeln!(f, "  EXT_ARG        {}", yn(self.feat_ext_arg))?;
        writeln!(f, "  RSRC_TAGS      {}", yn(self.feat_rsrc_tags))?;
        writeln!(f, "setup flags:")?;
        writeln!(f, "  SQPOLL         {}", yn(self.setup_sqpoll))?;
        writeln!(f, "  SINGLE_ISSUER  {}", yn(self.setup_single_issuer))?;
        writeln!(f, "  COOP_TASKRUN   {}", yn(self.setup_coop_taskrun))?;
        write!(f, "  DEFER_TASKRUN  {}", yn(self.setup_defer_taskrun))?;
        if let Some((what, hint)) = self.missing() {
            write!(f, "\nmissing: {what} ({hint})")?;
        }
        Ok(())
    }
}
